"""The diagonal net's parametrization: beta from (u, v), the chain rule back to (u, v), and
the initial (u, v) -- with the published code they follow and where they depart from it.

    beta = u * v               parametrization "uv"   (the default)
    beta = u^2 - v^2           parametrization "u2v2"

The published code. tml-epfl/sgd-sparse-features (Andriushchenko et al., ICML 2023,
"SGD with large step sizes learns sparse features"), file diag_nets.py, functions GD, SGD,
valley_projection and dln_grad_loss, uses beta = u * v only: `y_hat = X @ (u * v)`,
`grad_u, grad_v = (Xerr * v) / n, (Xerr * u) / n` with Xerr = X^T (X beta - y), for the
loss `loss(X, y_hat, y) = ||y_hat - y||^2 / (2 n)`; their SGD takes one random sample per
step (`i_t = np.random.randint(n)`). Their init is set in the notebooks, e.g.
diag_nets_2d_loss_surface.ipynb (second cell): `u0, v0 = 0.1 * np.ones(d), 0.0 * np.ones(d)`,
i.e. u = alpha 1, v = 0, alpha = 0.1 (diag_nets_level_set_stabilization.ipynb labels its
settings 'alpha=0.1const'). init="published" is that init, alpha = `scale`; beta_0 = 0.
(The README's main notebook diag_nets.ipynb was not in the copy of the repository read.)

Where minisgd departs from it:
  * the loss is minisgd's MSE, mean_i (f_i - y_i)^2 (PyTorch MSELoss, no 1/2), so every
    gradient is twice theirs: their step size gamma is gamma / 2 here;
  * "u2v2" is not in their code. It is the parametrization of Woodworth et al. (2020),
    whose init u = v = alpha 1 gives beta_0 = 0; init="published" uses that for u2v2
    (u = alpha, v = 0 would start at beta_0 = alpha^2, not at the origin);
  * init="random" (u, v ~ N(0, scale^2), from a seeded numpy Generator) is an addition.
Not for: the net itself, its forward and backward passes (diagonal.py), or checking its
arguments (diagonal_checks.py).
"""
import numpy as np

PARAMETRIZATIONS = ("uv", "u2v2")
INITS = ("published", "random")


def predictor(u, v, parametrization, out=None, scratch=None):
    """beta = u * v ("uv") or u^2 - v^2 ("u2v2"), elementwise: (..., d). out/scratch: buffers
    of that shape (scratch holds v^2), so that the training loop allocates nothing."""
    if parametrization == "uv":
        return np.multiply(u, v, out=out)
    beta = np.multiply(u, u, out=out)
    beta -= np.multiply(v, v, out=scratch)
    return beta


def factor_gradients(g_beta, u, v, parametrization, g_u, g_v):
    """The chain rule through beta, written into g_u, g_v (views of one gradient array):

        uv:    dC/du = dC/dbeta * v,       dC/dv = dC/dbeta * u
        u2v2:  dC/du = 2 u * dC/dbeta,     dC/dv = -2 v * dC/dbeta

    g_beta, u, v broadcast against g_u: (..., d), or (..., B, d) for per-sample gradients."""
    if parametrization == "uv":
        np.multiply(g_beta, v, out=g_u)
        np.multiply(g_beta, u, out=g_v)
    else:
        np.multiply(g_beta, u, out=g_u)
        g_u *= 2.0                                  # exact: 2 (g u) = (2 u) g in floats
        np.multiply(g_beta, v, out=g_v)
        g_v *= -2.0


def published_init(d, parametrization, alpha):
    """(u, v) of the published init: uv: u = alpha 1, v = 0; u2v2: u = v = alpha 1. beta = 0."""
    u = np.full(d, alpha)
    v = np.zeros(d) if parametrization == "uv" else np.full(d, alpha)
    return u, v


def random_init(rng, d, scale):
    """(u, v) with entries i.i.d. N(0, scale^2): u drawn first, then v."""
    u = rng.standard_normal(d) * scale
    v = rng.standard_normal(d) * scale
    return u, v
