"""Talking to arXiv: a polite HTTP client (`http`), parsers for its replies (`parse`) and the
day's listings built from them (`listing`). Only arXiv's configured base URLs are ever contacted.
"""
