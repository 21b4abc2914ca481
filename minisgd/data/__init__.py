"""Synthetic data sets, drawn in code from a seed, one module per task:

  support.py            the sparse-support regression of the headline experiment
  sparse_regression.py  y = X beta* + noise with a sparse beta* (Andriushchenko et al.)
  classification.py     gaussian_mixture, teacher and signals classification sets
"""
from .classification import DATASETS, dataset_defaults, make_classification
from .sparse_regression import make_sparse_regression
from .support import (INPUTS, TARGETS, Data, check_support, make_data, make_teacher,
                      sample_inputs, target_values)

__all__ = ["INPUTS", "TARGETS", "DATASETS", "Data", "check_support", "dataset_defaults",
           "make_classification", "make_data", "make_sparse_regression", "make_teacher",
           "sample_inputs", "target_values"]
