"""Synthetic partnership data: generated people, places and case histories at any scale."""
