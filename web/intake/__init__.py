"""Opening a new case: one page that takes the case, the victim, the place and anyone
responsible, and checks who is already on Casebridge before a person is created."""
