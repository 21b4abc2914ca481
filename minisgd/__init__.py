"""minisgd: a NumPy-only, autograd-free MLP with hand-written backprop, for studying how
SGD's implicit regularization shapes what a network learns (first-layer support, eta/b)."""
__version__ = "0.4.0"   # bumped when results change, even at rounding level

from .models import MLP, DiagonalNet, Grads
from .losses import mse, cross_entropy

__all__ = ["MLP", "DiagonalNet", "Grads", "mse", "cross_entropy", "__version__"]
