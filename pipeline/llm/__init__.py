"""Backends that turn a paper's text into a validated `PaperSummary`."""
