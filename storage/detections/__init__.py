"""Detector hits (repeat victim, Case Review threshold, MARAC repeat...): the table that
records each once, the set-based queries that find them, and the service that records
them with their flags, notifications and cases."""
