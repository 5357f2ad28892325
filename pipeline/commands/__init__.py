"""One module per CLI command, so cli.py stays a thin parser."""
