"""report: see the modules."""
