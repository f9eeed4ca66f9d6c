"""Detectors: repeat victim, repeat location, repeat perpetrator, the ASB Case Review
threshold and the duty to tell a victim about it, MARAC potential escalation and MARAC
repeat. `config` reads their settings (default.yaml, and a partnership's file on top)."""
