"""Partnership-wide search: people, locations and the cases the user may see."""
