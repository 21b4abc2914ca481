"""The networks: mlp.py (the MLP and its backward pass), initializers.py (first weights)."""
from .mlp import ACTIVATIONS, MLP, Grads, Workspace

__all__ = ["ACTIVATIONS", "MLP", "Grads", "Workspace"]
