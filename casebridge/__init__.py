"""Casebridge: the composition root (settings, clock, command line) shared by every package."""
