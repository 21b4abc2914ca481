"""Support metrics: pure functions of the first-layer weights W1 (n_in, n_out).

Row j of W1 is everything input coordinate j feeds into the network, i.e. column j of the
first layer in PyTorch's (out, in) view. The paper's measure is the Frobenius norm of the
irrelevant columns, ||W1[:, S^c]||_F in (out, in) = ||W1[S^c, :]||_F here. Not for:
recording them along a run (tasks.py does).
"""
import numpy as np


def column_norms(W1):
    """||W1[j, :]||_2 for each input coordinate j: (n_in,)."""
    return np.linalg.norm(W1, axis=1)


def complement(support, d):
    """The irrelevant coordinates S^c = [0, d) minus S, in increasing order."""
    support = set(support)
    return [j for j in range(d) if j not in support]


def irrelevant_norm(W1, support):
    """||W1[S^c, :]||_F: how much the first layer still listens to irrelevant inputs."""
    return float(np.linalg.norm(W1[complement(support, W1.shape[0])]))


def relevant_norm(W1, support):
    """||W1[S, :]||_F."""
    return float(np.linalg.norm(W1[list(support)]))


def detect_support(W1, rule="gap", fraction=0.1):
    """Inputs the first layer uses, as a sorted list of ints.

    rule="fraction": inputs whose column norm exceeds fraction * (largest column norm).
    rule="gap": sort the column norms in decreasing order and cut at the largest ratio
    between consecutive norms, n_(k) / n_(k+1); if no ratio exceeds 2 there is no clear
    gap and every input is returned. Norms below 1e-3 * max count as zero (they are
    floored there), so exact zeros left by a prox step do not make a spurious gap
    between "tiny" and "exactly zero".
    """
    norms = column_norms(W1)
    if rule == "fraction":
        return [int(j) for j in np.flatnonzero(norms > fraction * norms.max())]
    if rule != "gap":
        raise ValueError(f"rule must be 'gap' or 'fraction', got {rule!r}")
    order = np.argsort(-norms, kind="stable")
    sorted_norms = np.maximum(norms[order], 1e-3 * norms.max())
    ratios = sorted_norms[:-1] / np.maximum(sorted_norms[1:], 1e-300)    # (n_in - 1,)
    if ratios.size == 0 or ratios.max() <= 2.0:
        return list(range(W1.shape[0]))
    k = int(np.argmax(ratios)) + 1                       # keep the k largest
    return sorted(int(j) for j in order[:k])


def precision_recall(detected, support):
    """precision = |D & S| / |D|, recall = |D & S| / |S| (precision 0 for empty D)."""
    D, S = set(detected), set(support)
    hit = len(D & S)
    return (hit / len(D) if D else 0.0), hit / len(S)


def steps_to_threshold(steps, irrelevant, relevant, threshold=0.1):
    """First recorded step where irrelevant / relevant norm < threshold, or None."""
    for t, irr, rel in zip(steps, irrelevant, relevant):
        if rel > 0 and irr / rel < threshold:
            return int(t)
    return None


def gram(W1):
    """|W1 W1^T| (n_in, n_in): |<features of input i, features of input j>|, the paper's
    |W1^T W1| in the (out, in) view. A learned support is a bright |S| x |S| block."""
    return np.abs(W1 @ W1.T)


def support_summary(W1, support, rule="gap"):
    """The first-layer numbers a run reports, in one dict (JSON-ready)."""
    detected = detect_support(W1, rule=rule)
    precision, recall = precision_recall(detected, support)
    return {
        "irrelevant_norm": irrelevant_norm(W1, support),
        "relevant_norm": relevant_norm(W1, support),
        "column_norms": column_norms(W1).tolist(),
        "detected_support": detected,
        "precision": precision,
        "recall": recall,
    }
