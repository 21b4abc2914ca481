"""How a layer's first weights are drawn (the schemes PyTorch users know), from an explicit
numpy Generator. A weight-normalized layer starts from the same draw, as torch's weight_norm
does: V = W, g = ||W|| (weight_norm.init_gains). Not for: the network itself (mlp.py)."""
import numpy as np

INITS = ("kaiming_normal", "torch_default", "normal")


def init_layer(rng, n_in, n_out, init, scale, bias):
    """Draw one layer's (W, b).

    kaiming_normal: W ~ N(0, 2 / n_in)  (PyTorch kaiming_normal_, fan_in, relu gain), b = 0
    torch_default:  W, b ~ U(-1/sqrt(n_in), 1/sqrt(n_in))    (PyTorch nn.Linear default)
    normal:         W ~ N(0, scale^2), b = 0
    For kaiming_normal and torch_default a given `scale` multiplies the draw.
    """
    if init == "normal":
        W = rng.standard_normal((n_in, n_out)) * scale
        return W, (np.zeros(n_out) if bias else None)
    if init == "kaiming_normal":
        W = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
        b = np.zeros(n_out) if bias else None
    else:
        bound = 1.0 / np.sqrt(n_in)
        W = rng.uniform(-bound, bound, size=(n_in, n_out))
        b = rng.uniform(-bound, bound, size=n_out) if bias else None
    if scale is not None:
        W *= scale
        if b is not None:
            b *= scale
    return W, b
