"""A person's record: history of changes, subject access export."""
