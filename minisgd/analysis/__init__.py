"""analysis: see the modules."""
