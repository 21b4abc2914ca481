"""Metrics, pure functions of weights and data, one module per family:

  registry.py          the metric-set registry: @metric_set, @streaming_metric_set, lookups
  support.py           first-layer support: irrelevant / relevant norms, detected support
  accuracy.py          classification accuracy
  predictor.py         a net's linear predictor beta; l0, ||beta - beta*||, top-|S| hits
  norms.py             metric set `layer_norms`
  sparsity.py          metric set `sparsity`: l0 at several thresholds, top-|S| hits
  feature_sparsity.py  metric set `feature_sparsity`: distinct live ReLU features per layer
  stabilization.py     metric set `stabilization` (streaming): the loss over a sliding window
  sharpness.py         metric set `sharpness`: top Hessian eigenvalue (analysis/lanczos.py)
  rank.py              metric set `rank`: rank of W/||W||_F at a tolerance, stable rank
  update_size.py       metric set `noise` (streaming): ||W_{t+1} - W_t|| / ||W_t|| per window
  collapse.py          metric set `collapse`: NC1-NC4 of the last hidden layer (train set)

Metric sets: a run's Config.metrics names extra sets of numbers recorded at every history
step and in `final` (the value at the end). A set is a function (net, problem) -> {column:
float}, registered with @metric_set(name, tasks, models) (registry.py); problem is the
run's tasks.Problem (data, targets, loss). Each set lives in a module of its own, imported
below so that importing minisgd.metrics registers every set.

A set that needs every step, not only the record steps (e.g. the size of each update), is
a class registered with @streaming_metric_set(name, tasks, models): train() makes one
object per run, Stream(net, problem), calls .step(net, t) after every update t (t = 0, 1,
...) and .row(net) at the record steps and at the end. Single runs only: an ensemble with
a streaming set is refused (the sweep then trains those runs one by one).
"""
from .registry import (METRIC_SETS, MetricSet, check_metric_names, compute_metric_sets,
                       metric_set, start_streams, streaming_metric_set)
from .support import (column_norms, complement, detect_support, gram, irrelevant_norm,
                      precision_recall, relevant_norm, steps_to_threshold, support_summary)

from . import norms  # noqa: F401  (these imports register the metric sets)
from . import feature_sparsity, sharpness, sparsity, stabilization  # noqa: F401
from . import collapse, rank, update_size  # noqa: F401

__all__ = ["METRIC_SETS", "MetricSet", "metric_set", "streaming_metric_set", "start_streams",
           "check_metric_names",
           "compute_metric_sets", "column_norms", "complement", "detect_support", "gram",
           "irrelevant_norm", "precision_recall", "relevant_norm", "steps_to_threshold",
           "support_summary"]
