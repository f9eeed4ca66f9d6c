"""Retention: the review list of closed cases past their retention period, and deletion."""
