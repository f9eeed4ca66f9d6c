"""Person and location profiles: shared across the partnership, locked where they must be."""
