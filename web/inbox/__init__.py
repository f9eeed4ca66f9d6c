"""The task inbox, the home page: the work waiting for the signed-in user and their agency."""
