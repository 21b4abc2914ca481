"""Synthetic data sets, drawn in code from a seed: support.py (the sparse-support regression
of the headline experiment)."""
from .support import (INPUTS, TARGETS, Data, check_support, make_data, make_teacher,
                      sample_inputs, target_values)

__all__ = ["INPUTS", "TARGETS", "Data", "check_support", "make_data", "make_teacher",
           "sample_inputs", "target_values"]
