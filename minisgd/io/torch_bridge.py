"""Conversion between minisgd's MLP and a PyTorch ``nn.Sequential``: the one place where the
(n_in, n_out) layout meets PyTorch's (out, in) layout.

Weight-normalized nets map to torch.nn.utils.parametrizations.weight_norm on the hidden
Linear layers (dim=None for weight_norm="layer", dim=0 for "unit"): original0 = g (shape ()
or (out, 1)), original1 = V^T (out, in). from_torch and from_state_dict also read the older
hook-based torch.nn.utils.weight_norm (weight_g, weight_v), which the square-loss low-rank
paper's code uses.

torch is imported lazily, inside the functions: minisgd runs without it. Not for: training
in PyTorch (the cross-check tests do that themselves).
"""
import importlib

import numpy as np

from ..models import MLP


def import_torch():
    try:
        import torch
    except ImportError as err:                    # pragma: no cover - depends on the machine
        raise ImportError("this function needs PyTorch: pip install 'minisgd[torch]' "
                          "(or pip install torch)") from err
    return torch


TORCH_DIMS = {"layer": None, "unit": 0}         # weight_norm -> torch's weight_norm(dim=...)


def to_torch(net, dtype=None):
    """``nn.Sequential(Linear, act, Linear, act, ..., Linear)`` with net's parameters copied:
    Linear.weight = W.T (out, in), Linear.bias = b. float64 unless dtype is given.

    A weight-normalized net's hidden Linears are parametrized by torch's weight_norm
    (dim=None for "layer", dim=0 for "unit") with original0 = g (() or (out, 1)) and
    original1 = V.T (out, in)."""
    torch = import_torch()
    nn = torch.nn
    dtype = torch.float64 if dtype is None else dtype
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "linear": None}[net.activation]
    modules = []
    for l, W in enumerate(net.weights):
        lin = nn.Linear(W.shape[0], W.shape[1], bias=net.biases is not None, dtype=dtype)
        normed = net.gains is not None and l < len(net.weights) - 1
        if normed:
            lin = torch.nn.utils.parametrizations.weight_norm(
                lin, dim=TORCH_DIMS[net.weight_norm])
        with torch.no_grad():
            V = torch.from_numpy(np.ascontiguousarray(W.T))            # (out, in)
            if normed:
                g = np.array(net.gains[l]).reshape(() if net.weight_norm == "layer" else (-1, 1))
                lin.parametrizations.weight.original0.copy_(torch.from_numpy(g))
                lin.parametrizations.weight.original1.copy_(V)
            else:
                lin.weight.copy_(V)
            if net.biases is not None:
                lin.bias.copy_(torch.from_numpy(net.biases[l]))
        modules.append(lin)
        if act is not None and l < len(net.weights) - 1:
            modules.append(act())
    return nn.Sequential(*modules)


def weight_norm_of(lin):
    """(kind, V, g) of a Linear: ("none", weight, None), or ("layer" / "unit", V, g) when
    its weight is normalized by torch's parametrizations.weight_norm (original1, original0)
    or the older hook torch.nn.utils.weight_norm (weight_v, weight_g); dim=None (stored as
    -1) is "layer", dim=0 "unit"."""
    torch = import_torch()
    parametrize = torch.nn.utils.parametrize
    old_hook = importlib.import_module("torch.nn.utils.weight_norm").WeightNorm
    hooks = [h for h in lin._forward_pre_hooks.values() if isinstance(h, old_hook)]
    if parametrize.is_parametrized(lin):
        plist = getattr(lin.parametrizations, "weight", None)
        if (set(lin.parametrizations.keys()) != {"weight"} or len(plist) != 1
                or not isinstance(plist[0], torch.nn.utils.parametrizations._WeightNorm)):
            raise ValueError("a Linear's only parametrization may be weight_norm on its weight "
                             f"(torch.nn.utils.parametrizations.weight_norm), got {lin}")
        dim, V, g = plist[0].dim, plist.original1, plist.original0
    elif hooks:
        if len(hooks) != 1 or hooks[0].name != "weight":
            raise ValueError(f"a Linear may have one weight_norm, on its weight; got {lin}")
        dim, V, g = hooks[0].dim, lin.weight_v, lin.weight_g
    else:
        return "none", lin.weight, None
    kinds = {-1: "layer", 0: "unit"}
    if dim not in kinds:
        raise ValueError(f"weight_norm dim must be None (weight_norm='layer') or 0 ('unit', "
                         f"one gain per output unit), got dim={dim}")
    return kinds[dim], V, g


def from_torch(module):
    """MLP from an ``nn.Sequential`` of Linear layers with one kind of activation between
    them (ReLU, Tanh, or none / Identity). Parameters are copied to float64.

    Weight normalization is read back when every hidden Linear (and not the last) has the
    same torch weight_norm (parametrization or the older hook)."""
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
    # (a weight-normalized Linear is a subclass, ParametrizedLinear: counted as a Linear)
    pattern = [nn.Linear if isinstance(m, nn.Linear) else type(m) for m in layers]
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
    normed = [weight_norm_of(m) for m in linears]
    return mlp_from_tensors([V for _, V, _ in normed],
                            [m.bias for m in linears] if all(has_bias) else None,
                            activation=act, weight_norm=common_weight_norm(
                                [kind for kind, _, _ in normed]),
                            gains=[g for _, _, g in normed[:-1]])


def common_weight_norm(kinds):
    """The net's weight_norm from each Linear's: "none" everywhere, or one kind on every
    hidden layer and none on the last (what MLP(weight_norm=...) represents)."""
    hidden, last = set(kinds[:-1]), kinds[-1]
    if last == "none" and len(hidden) <= 1:
        return hidden.pop() if hidden else "none"
    raise ValueError("minisgd's weight_norm normalizes every hidden Linear the same way and "
                     f"the last Linear not at all; got, layer by layer: {kinds}")


# a layer's weight in a state_dict: plain, weight-normalized (parametrization), (old hook)
WEIGHT_KEYS = {".weight": None, ".parametrizations.weight.original1":
               ".parametrizations.weight.original0", ".weight_v": ".weight_g"}


def from_state_dict(state, activation="linear"):
    """MLP from a state_dict of an nn.Sequential of Linear layers ('<i>.weight', '<i>.bias'),
    e.g. torch.load(path) of seq.state_dict(); activations are not in a state_dict.

    Weight-normalized layers ('<i>.parametrizations.weight.original0/1', or the older
    '<i>.weight_g/_v') are read back too; their kind comes from g's shape: () is "layer",
    (out, 1) "unit"."""
    natural = lambda k: [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in k.split(".")]
    layers = {k[:-len(end)]: (k, None if g_end is None else k[:-len(end)] + g_end)
              for k in state for end, g_end in WEIGHT_KEYS.items() if k.endswith(end)}
    keys = sorted(layers, key=natural)
    if not keys:
        raise ValueError("state_dict holds no '<layer>.weight' entries")
    biased = [f"{k}.bias" in state for k in keys]
    if any(biased) and not all(biased):
        raise ValueError("state_dict has biases for some layers only; minisgd needs all or none")
    has_bias = all(biased)
    gains = [None if g_key is None else state[g_key] for _, g_key in (layers[k] for k in keys)]
    kinds = ["none" if g is None else ("layer" if g.ndim == 0 else "unit") for g in gains]
    return mlp_from_tensors([state[layers[k][0]] for k in keys],
                            [state[f"{k}.bias"] for k in keys] if has_bias else None,
                            activation=activation, weight_norm=common_weight_norm(kinds),
                            gains=gains[:-1])


def mlp_from_tensors(weights, biases, activation, weight_norm="none", gains=None):
    """(out, in) torch weight tensors -> MLP with (n_in, n_out) float64 arrays; with
    weight_norm, weights are the directions V and gains torch's g (() or (out, 1))."""
    torch = import_torch()
    to_np = lambda t: t.detach().cpu().to(torch.float64).numpy().copy()
    if weight_norm != "none":
        shape = () if weight_norm == "layer" else (-1,)          # (out, 1) -> (n_out,)
        gains = [to_np(g).reshape(shape) for g in gains]
    return MLP.from_weights([to_np(W).T.copy() for W in weights],
                            None if biases is None else [to_np(b) for b in biases],
                            activation=activation, weight_norm=weight_norm,
                            gains=gains if weight_norm != "none" else None)
