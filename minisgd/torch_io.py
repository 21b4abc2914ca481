"""Conversion between minisgd's MLP and a PyTorch ``nn.Sequential``: the one place where the
(n_in, n_out) layout meets PyTorch's (out, in) layout.

torch is imported lazily, inside the functions: minisgd runs without it. Not for: training
in PyTorch (the cross-check tests do that themselves).
"""
import numpy as np

from .models import MLP


def import_torch():
    try:
        import torch
    except ImportError as err:                    # pragma: no cover - depends on the machine
        raise ImportError("this function needs PyTorch: pip install 'minisgd[torch]' "
                          "(or pip install torch)") from err
    return torch


def to_torch(net, dtype=None):
    """``nn.Sequential(Linear, act, Linear, act, ..., Linear)`` with net's parameters copied:
    Linear.weight = W.T (out, in), Linear.bias = b. float64 unless dtype is given."""
    torch = import_torch()
    nn = torch.nn
    dtype = torch.float64 if dtype is None else dtype
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "linear": None}[net.activation]
    modules = []
    for l, W in enumerate(net.weights):
        lin = nn.Linear(W.shape[0], W.shape[1], bias=net.biases is not None, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            if net.biases is not None:
                lin.bias.copy_(torch.from_numpy(net.biases[l]))
        modules.append(lin)
        if act is not None and l < len(net.weights) - 1:
            modules.append(act())
    return nn.Sequential(*modules)


def from_torch(module):
    """MLP from an ``nn.Sequential`` of Linear layers with one kind of activation between
    them (ReLU, Tanh, or none / Identity). Parameters are copied to float64."""
    torch = import_torch()
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"module must be a torch.nn.Sequential, got {type(module).__name__}")
    layers = [m for m in module if not isinstance(m, nn.Identity)]
    kinds = {nn.ReLU: "relu", nn.Tanh: "tanh"}
    for m in layers:
        if not isinstance(m, (nn.Linear, nn.ReLU, nn.Tanh)):
            raise ValueError(f"module may hold only Linear, ReLU, Tanh and Identity layers, "
                             f"got {type(m).__name__}")
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("module has no nn.Linear layer")
    # the only shapes an MLP has: Linear (act Linear)* with one act kind, or no act at all
    pattern = [type(m) for m in layers]
    idx = [k for k, t in enumerate(pattern) if t is nn.Linear]
    between = [tuple(pattern[i + 1:j]) for i, j in zip(idx[:-1], idx[1:])]
    acts = set(between)
    if (idx[0] != 0 or idx[-1] != len(layers) - 1 or len(acts) > 1
            or any(len(gap) > 1 for gap in acts)):
        raise ValueError("module must be Linear, act, Linear, ..., act, Linear with the same "
                         "activation (or none) after every hidden Linear and none after the "
                         f"last; got {[t.__name__ for t in pattern]}")
    act = kinds[acts.pop()[0]] if acts and between[0] else "linear"
    has_bias = [m.bias is not None for m in linears]
    if any(has_bias) and not all(has_bias):
        raise ValueError("either every Linear layer has a bias or none does")
    return mlp_from_tensors([m.weight for m in linears],
                            [m.bias for m in linears] if all(has_bias) else None,
                            activation=act)


def from_state_dict(state, activation="linear"):
    """MLP from a state_dict of an nn.Sequential of Linear layers ('<i>.weight', '<i>.bias'),
    e.g. torch.load(path) of seq.state_dict(); activations are not in a state_dict."""
    natural = lambda k: [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in k.split(".")]
    keys = sorted({k.rsplit(".", 1)[0] for k in state if k.endswith(".weight")}, key=natural)
    if not keys:
        raise ValueError("state_dict holds no '<layer>.weight' entries")
    biased = [f"{k}.bias" in state for k in keys]
    if any(biased) and not all(biased):
        raise ValueError("state_dict has biases for some layers only; minisgd needs all or none")
    has_bias = all(biased)
    return mlp_from_tensors([state[f"{k}.weight"] for k in keys],
                            [state[f"{k}.bias"] for k in keys] if has_bias else None,
                            activation=activation)


def mlp_from_tensors(weights, biases, activation):
    """(out, in) torch weight tensors -> MLP with (n_in, n_out) float64 arrays."""
    torch = import_torch()
    to_np = lambda t: t.detach().cpu().to(torch.float64).numpy().copy()
    return MLP.from_weights([to_np(W).T.copy() for W in weights],
                            None if biases is None else [to_np(b) for b in biases],
                            activation=activation)
