"""io: see the modules."""
