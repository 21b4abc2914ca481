"""Metrics, pure functions of weights and data: support.py (first-layer support)."""
from .support import (column_norms, complement, detect_support, gram, irrelevant_norm,
                      precision_recall, relevant_norm, steps_to_threshold, support_summary)

__all__ = ["column_norms", "complement", "detect_support", "gram", "irrelevant_norm",
           "precision_recall", "relevant_norm", "steps_to_threshold", "support_summary"]
