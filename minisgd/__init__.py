"""minisgd: a NumPy-only, autograd-free MLP with hand-written backprop, for studying how
SGD's implicit regularization shapes what a network learns (first-layer support, eta/b)."""
__version__ = "0.5.0"   # bumped with each release; results last changed (at rounding
                        # level) in 0.4.0: tests/test_numbers_unchanged.py

from .models import MLP, DiagonalNet, Grads
from .losses import mse, cross_entropy

__all__ = ["MLP", "DiagonalNet", "Grads", "mse", "cross_entropy", "__version__"]
