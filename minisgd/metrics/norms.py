"""The `layer_norms` metric set: the size of every layer of the net, at each record step.

MLP: norm_W{l} = ||W_l||_F of the effective weight of layer l (for a weight-normalized layer
g * V / ||V||, what the forward pass multiplies by). Diagonal net: norm_u = ||u||_2,
norm_v = ||v||_2 and norm_beta = ||beta||_2 of the predictor. A net that shrinks toward a
constant predictor shows here first.
"""
import numpy as np

from .registry import metric_set


@metric_set("layer_norms")
def layer_norms(net, problem):
    """Frobenius norm of every layer's effective weight (u, v and beta for a diagonal net)."""
    if hasattr(net, "effective_predictor"):
        return {"norm_u": float(np.linalg.norm(net.u)), "norm_v": float(np.linalg.norm(net.v)),
                "norm_beta": float(np.linalg.norm(net.effective_predictor()))}
    return {f"norm_W{l}": float(np.linalg.norm(W)) for l, W in enumerate(net.effective_weights())}
