"""The case page and the case list."""
