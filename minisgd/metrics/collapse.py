"""Neural collapse of the last hidden layer (Papyan, Han, Donoho 2020), the `collapse` metric
set, and the guard against its degenerate twin: a net that outputs a constant.

H (N, p): the last hidden layer's outputs on the training set, labels y (N,) in [0, C);
mu_c the mean of class c, mu_G the mean of all N rows, M (p, C) the centred means
mu_c - mu_G as columns; W (p, C) the output layer's weight (our (n_in, n_out) layout, so
w_c = W[:, c] is class c's classifier). With

    Sigma_W = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T       within-class   (p, p)
    Sigma_B = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T             between-class  (p, p)

    NC1 = Tr(Sigma_W Sigma_B^+) / C,  Sigma_B^+ from the top C-1 eigenpairs of Sigma_B
          (variability within classes against between them; -> 0)
    NC2 equinorm    = std / mean over c of ||mu_c - mu_G||, and of ||w_c||      (-> 0)
        equiangular = mean over pairs c < c' of |cos(v_c, v_c') + 1/(C-1)|, v = the
                      centred means, and the classifiers                        (-> 0)
    NC3 = || W / ||W||_F - M / ||M||_F ||_F^2     classifiers vs centred means  (-> 0)
    NC4 = fraction of rows where argmax_c f(x_i) differs from the nearest class mean
          argmin_c ||h_i - mu_c||                                               (-> 0)

as Papyan et al.'s code (std / mean with numpy's population std, the pseudo-inverse from
scipy's svds(Sigma_B, k=C-1), W and M each over its Frobenius norm). NC1 needs C-1
between-class directions, so p >= C - 1 and every class present; if Sigma_B has fewer
than C-1 non-zero eigenvalues (the class means coincide: nothing was learned) NC1 is inf.

A constant predictor (a net shrunk by weight decay until its output no longer depends on
x) has tiny ranks, tiny updates and degenerate features, so rank, noise and NC numbers
can look like the claims while nothing was learned. output_spread measures it: the
standard deviation of f(x) over the training rows, summed over classes in quadrature, over
the same for the targets Y; is_constant_predictor flags a spread below 1e-2.
"""
import numpy as np

from ..checks import check_float_array, check_int, check_int_array
from .registry import metric_set

CONSTANT_SPREAD = 1e-2


def check_features(H, labels, classes):
    """H (N, p) floats, labels (N,) ints in [0, classes), every class present, p >= C-1."""
    C = check_int("classes", classes, low=2)
    H = check_float_array("H (features)", H, ndim=2)
    labels = check_int_array("labels", labels, ndim=1, low=0, high=C - 1)
    if labels.shape[0] != H.shape[0]:
        raise ValueError(f"labels must have one entry per row of H ({H.shape[0]}), got "
                         f"{labels.shape[0]}")
    missing = sorted(set(range(C)) - set(np.unique(labels).tolist()))
    if missing:
        raise ValueError(f"labels must hold every class 0..{C - 1} (class means), missing "
                         f"{missing}")
    if H.shape[1] < C - 1:
        raise ValueError(f"neural collapse needs a layer of at least classes - 1 = {C - 1} "
                         f"units (C-1 between-class directions), got {H.shape[1]}")
    return H, labels, C


def class_means(H, labels, classes):
    """(mu (C, p) class means, mu_G (p,) the mean of all rows)."""
    H, labels, C = check_features(H, labels, classes)
    counts = np.bincount(labels, minlength=C)                          # (C,)
    sums = np.zeros((C, H.shape[1]))
    np.add.at(sums, labels, H)
    return sums / counts[:, None], H.mean(axis=0)


def nc1(H, labels, classes):
    """Tr(Sigma_W Sigma_B^+) / C (see the module docstring)."""
    H, labels, C = check_features(H, labels, classes)
    mu, mu_G = class_means(H, labels, C)
    within = H - mu[labels]                                            # (N, p)
    Sigma_W = within.T @ within / H.shape[0]                           # (p, p)
    M = (mu - mu_G).T                                                  # (p, C)
    Sigma_B = M @ M.T / C                                              # (p, p)
    values, vectors = np.linalg.eigh(Sigma_B)                          # ascending
    top, U = values[-(C - 1):], vectors[:, -(C - 1):]                  # (C-1,), (p, C-1)
    if np.trace(Sigma_B) == 0 or top[0] <= 1e-12 * top[-1]:
        return np.inf                                                  # means coincide
    pinv = (U / top) @ U.T                                             # (p, p)
    return float(np.trace(Sigma_W @ pinv) / C)


def equinorm(V):
    """std / mean of the column norms of V (p, C)."""
    norms = np.linalg.norm(V, axis=0)
    return float(np.std(norms) / np.mean(norms)) if np.mean(norms) > 0 else np.nan


def equiangularity(V):
    """mean over column pairs c < c' of |cos(V_c, V_c') + 1/(C-1)| (0 for a simplex ETF)."""
    C = V.shape[1]
    norms = np.linalg.norm(V, axis=0)
    if np.any(norms == 0):
        return np.nan
    cos = (V.T @ V) / np.outer(norms, norms)                           # (C, C)
    pairs = np.triu_indices(C, k=1)
    return float(np.mean(np.abs(cos[pairs] + 1.0 / (C - 1))))


def nc3(W, M):
    """|| W / ||W||_F - M / ||M||_F ||_F^2; W, M (p, C)."""
    W = check_float_array("W (output layer)", W, ndim=2)
    M = check_float_array("M (centred class means)", M, shape=W.shape)
    nW, nM = np.linalg.norm(W), np.linalg.norm(M)
    if nW == 0 or nM == 0:
        return np.nan
    return float(np.sum((W / nW - M / nM) ** 2))


def nc4(H, labels, classes, outputs):
    """Fraction of rows whose net prediction argmax f differs from the nearest class mean
    (outputs (N, C), the net's f on the rows of H)."""
    H, labels, C = check_features(H, labels, classes)
    outputs = check_float_array("outputs", outputs, shape=(H.shape[0], C))
    mu, _ = class_means(H, labels, C)
    distances = (np.sum(H * H, axis=1)[:, None] - 2 * H @ mu.T +
                 np.sum(mu * mu, axis=1)[None, :])                     # (N, C)
    return float(np.mean(np.argmin(distances, axis=1) != np.argmax(outputs, axis=1)))


def neural_collapse(H, labels, classes, W, outputs):
    """{nc1, nc2_norm_means, nc2_norm_weights, nc2_angle_means, nc2_angle_weights, nc3,
    nc4} of features H (N, p), output weights W (p, C) and outputs f (N, C)."""
    H, labels, C = check_features(H, labels, classes)
    W = check_float_array("W (output layer)", W, shape=(H.shape[1], C))
    mu, mu_G = class_means(H, labels, C)
    M = (mu - mu_G).T                                                  # (p, C)
    return {"nc1": nc1(H, labels, C),
            "nc2_norm_means": equinorm(M), "nc2_norm_weights": equinorm(W),
            "nc2_angle_means": equiangularity(M), "nc2_angle_weights": equiangularity(W),
            "nc3": nc3(W, M), "nc4": nc4(H, labels, C, outputs)}


def output_spread(outputs, targets):
    """sqrt(sum_c var_i f_ic) / sqrt(sum_c var_i Y_ic): how much the net's output varies
    over the rows, against how much the targets do (0: a constant predictor)."""
    outputs = check_float_array("outputs", outputs, ndim=2)
    targets = check_float_array("targets", targets, shape=outputs.shape)
    scale = np.sqrt(np.sum(np.var(targets, axis=0)))
    if scale == 0:
        raise ValueError("targets must vary over the rows (at least two classes), got "
                         "constant targets")
    return float(np.sqrt(np.sum(np.var(outputs, axis=0))) / scale)


def is_constant_predictor(outputs, targets, threshold=CONSTANT_SPREAD):
    """output_spread(outputs, targets) < threshold."""
    return output_spread(outputs, targets) < threshold


def check_collapse_net(net, classes):
    """The net has a hidden layer of at least classes - 1 units (the features)."""
    if len(net.sizes) < 3:
        raise ValueError("metrics 'collapse' reads the last hidden layer: depth must be >= 1, "
                         f"got sizes {net.sizes}")
    if net.sizes[-2] < classes - 1:
        raise ValueError(f"metrics 'collapse' needs a last hidden layer of at least classes - "
                         f"1 = {classes - 1} units, got width {net.sizes[-2]}")


def check_collapse_config(config):
    """Config.validate's check: a last hidden layer of at least classes - 1 units."""
    if config.depth == 0:
        raise ValueError("metrics 'collapse' reads the last hidden layer: depth must be >= 1, "
                         "got 0")
    if config.width < config.classes - 1:
        raise ValueError(f"metrics 'collapse' needs a last hidden layer of at least classes - "
                         f"1 = {config.classes - 1} units, got width {config.width}")


@metric_set("collapse", tasks=("classification",), models=("mlp",), check=check_collapse_config)
def collapse_metrics(net, problem):
    """NC1-NC4 of the last hidden layer on the training set, and output_spread."""
    C = problem.Y.shape[1]
    check_collapse_net(net, C)
    acts = net.forward_cache(problem.data.X)
    H, f = acts[-2], acts[-1]                                          # (N, p), (N, C)
    if not (np.all(np.isfinite(H)) and np.all(np.isfinite(f))):
        return dict.fromkeys(COLUMNS, np.nan)                          # a diverged run
    row = neural_collapse(H, problem.labels, C, net.effective_weights()[-1], f)
    row["output_spread"] = output_spread(f, problem.Y)
    return row


COLUMNS = ("nc1", "nc2_norm_means", "nc2_norm_weights", "nc2_angle_means",
           "nc2_angle_weights", "nc3", "nc4", "output_spread")
