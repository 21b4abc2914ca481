"""Synthetic data sets, drawn in code from a seed, one module per task, in one container:

  container.py          Data (training and test sets, any task) and check_support
  support.py            the sparse-support regression of the headline experiment
  sparse_regression.py  y = X beta* + noise with a sparse beta* (Andriushchenko et al.)
  classification.py     gaussian_mixture, teacher and signals classification sets
"""
from .classification import DATASETS, dataset_defaults, make_classification
from .container import Data, check_support
from .sparse_regression import make_sparse_regression
from .support import (INPUTS, TARGETS, make_data, make_teacher, sample_inputs,
                      target_values)

__all__ = ["INPUTS", "TARGETS", "DATASETS", "Data", "check_support", "dataset_defaults",
           "make_classification", "make_data", "make_sparse_regression", "make_teacher",
           "sample_inputs", "target_values"]
