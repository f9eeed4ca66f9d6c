"""The retention review list."""
