"""What runs cost. The benchmark against PyTorch, JAX and a plain NumPy loop: driver.py runs
each timed loop (loops.py) in a fresh subprocess and builds the tables. cost.py: the memory
and a lower bound on the time of a run, from its config, before any work. Not for: tests."""
