"""Fake servers on 127.0.0.1 that speak the real protocols, for tests and end-to-end CLI runs."""
