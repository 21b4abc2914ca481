"""The networks, each with its hand-written forward and backward pass:

  mlp.py           the MLP (weights (n_in, n_out), optional biases, weight normalization)
  weight_norm.py   W = g V / ||V||: the effective weight and the chain rule back to V, g
  diagonal.py      the diagonal linear network f(x) = <u * v, x> (or <u^2 - v^2, x>)
  initializers.py  how an MLP's first weights are drawn
"""
from .diagonal import DiagonalNet
from .mlp import ACTIVATIONS, MLP, Grads, Workspace

__all__ = ["ACTIVATIONS", "MLP", "DiagonalNet", "Grads", "Workspace"]
