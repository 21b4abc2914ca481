"""The benchmark against PyTorch, JAX and a plain NumPy loop: driver.py runs each timed loop
(loops.py) in a fresh subprocess and builds the tables. Not for: tests."""
