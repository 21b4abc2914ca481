"""engines.py: the pieces of a large batch, and the threads that share them."""
import numpy as np
import pytest

from minisgd.data import make_data
from minisgd.ensemble import train_ensemble
from minisgd.models import MLP
from minisgd.train import Config, train


def small(**kw):
    base = dict(d=5, support=(0, 2), n=50, n_test=33, depth=2, width=4, steps=20,
                records_per_decade=5)
    base.update(kw)
    return Config(**base)


@pytest.mark.parametrize("rows", [1, 2048, 2049, 4096, 5000, 10000, 12289])
def test_piece_slices_are_an_even_number_of_near_equal_pieces(rows):
    from minisgd.engines import CHUNK_ROWS, piece_slices
    slices = piece_slices(rows)
    starts = [s.start for s in slices]
    sizes = np.array([s.stop - s.start for s in slices])
    assert starts[0] == 0 and slices[-1].stop == rows and sizes.sum() == rows
    assert all(a.stop == b.start for a, b in zip(slices, slices[1:]))   # adjacent
    assert sizes.max() <= CHUNK_ROWS
    if rows <= CHUNK_ROWS:
        assert slices == [slice(0, rows)]
    else:
        assert len(slices) % 2 == 0 and sizes.max() - sizes.min() <= len(slices)


@pytest.mark.parametrize("threads", [2, 3])
def test_threads_give_bit_identical_runs(monkeypatch, threads):
    import minisgd.engines as engines
    monkeypatch.setattr(engines, "CHUNK_ROWS", 16)         # 100 rows: 8 pieces
    data = make_data(3, d=5, support=(0, 2), n=50, n_test=33)
    cfg = small(d=5, support=(0, 2), depth=2, width=4, activation="relu", bias=True,
                optimizer="gd", lr=0.1, clip=0.5, momentum=0.5, weight_decay=0.01, steps=30)
    one = train(cfg, data=data, threads=1)
    many = train(cfg, data=data, threads=threads)
    assert np.array_equal(one.net.theta, many.net.theta)
    assert one.history == many.history


def test_ensemble_threads_give_the_single_runs(monkeypatch):
    import minisgd.engines as engines
    monkeypatch.setattr(engines, "CHUNK_ROWS", 16)
    configs = [small(d=5, support=(0, 2), depth=2, width=4, optimizer="gd", n=50, lr=0.1,
                     steps=20, seed=s, data_seed=1) for s in range(3)]
    runs = train_ensemble(configs, threads=2)
    for run, config in zip(runs, configs):
        assert np.array_equal(run.net.theta, train(config, threads=1).net.theta)


def test_batch_gradient_stops_its_helper_threads():
    from minisgd.engines import RowsGradient
    net = MLP([3, 2, 1], seed=0)
    with RowsGradient(net, threads=2) as loss_and_grad:
        loss_and_grad(net, np.ones((5000, 3)), np.ones((5000, 1)))
        assert loss_and_grad.helpers is not None
    assert loss_and_grad.helpers._shutdown


def test_default_threads_follow_the_blas_thread_variables(monkeypatch):
    from minisgd.engines import blas_threads, default_threads
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert blas_threads() == 1 and default_threads() == 1
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    assert default_threads() == 2 and default_threads(3) == 3
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert blas_threads() == 1
    with pytest.raises(ValueError, match="threads"):
        default_threads(0)
