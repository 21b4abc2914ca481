"""Classification accuracy: the fraction of rows whose largest output is the label.

    accuracy = (1 / N) * #{i : argmax_k f_ik = y_i}       f: (N, C), y: (N,) ints

Ties go to the lowest class index (numpy's argmax, as torch.argmax on CPU).
"""
import numpy as np


def correct_count(outputs, labels):
    """#{i : argmax_k outputs[i, k] == labels[i]} (an int); outputs (N, C), labels (N,)."""
    return int(np.count_nonzero(np.argmax(outputs, axis=-1) == labels))


def accuracy(outputs, labels):
    """Fraction of rows classified correctly, in [0, 1]."""
    return correct_count(outputs, labels) / labels.shape[0]
