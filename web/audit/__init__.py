"""The auditors' audit log pages."""
