"""An action's page: what an agency owes a case, its history, and the forms to answer it."""
