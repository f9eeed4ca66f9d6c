"""What the engine did and when: one small record per scheduled flow run."""
