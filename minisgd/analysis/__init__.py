"""Measurements of a net at a point, or along a run when asked for: its curvature, its
gradient noise, and SGD's modified loss.

  hvp.py             Hessian-vector products written by hand (R-operator), MLP and diagonal net
  lanczos.py         the top of the Hessian's spectrum from HVPs (Lanczos, power iteration)
  hessian.py         the exact Hessian of a small net, its whole spectrum, Hutchinson's trace
  gradient_noise.py  the per-sample gradient variance Gamma and ||grad C||^2, split by rows
  noise_shape.py     the noise covariance Sigma, its alignment with H, mini-batch noise
  tail_index.py      the tail index alpha of gradient noise (block-sum estimator)
  modified_loss.py   SGD's modified loss C_SGD, its gradient, and full-batch GD on it

Not for: the numbers every run can record by name (the metric sets, metrics/), which call
into lanczos.py for `sharpness`.
"""
