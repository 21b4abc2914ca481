"""The verdict() of each experiment script (issue 23: verdicts are computed from
summary.json, by a rule stated beside them): summaries built by hand just on either side of
each threshold of the rule, and small real runs end to end (main() -> summary.json ->
verdict)."""
import json
import os

import pytest

from experiment_scripts import load_script

VERDICTS = ("reproduced", "partly", "not reproduced", "opposite")
KEYS = ("effect", "value", "spread", "seeds", "published", "verdict", "rule")


def checked(result):
    """The verdict dict, after checking that it has the report's keys and a known verdict."""
    assert set(KEYS) <= set(result), result
    assert result["verdict"] in VERDICTS
    assert isinstance(result["effect"], str) and isinstance(result["rule"], str)
    return result


def verdict_of(name, summary, **kw):
    return checked(load_script(name).verdict(summary, **kw))["verdict"]


# ---- support.py ---------------------------------------------------------------------------
S = [0, 1, 2, 3, 4]


def support_summary(sgd, gd=3.6, reg=0.01, large=1.7, exact=True, gd_exact=False):
    """One-seed layout: SGD b=1 ends at `sgd`, b=512 at `large`, GD at `gd`."""
    arms = {"SGD b=1": (sgd, exact), "SGD b=512": (large, False), "GD": (gd, gd_exact),
            "GD + weight decay 0.1": (reg, True), "GD + group-L1 prox 0.01": (reg, True)}
    return {"table": [{"arm": a, "irrelevant_norm": v,
                       "detected_support": S if ok else list(range(15))}
                      for a, (v, ok) in arms.items()],
            "runs": {a: {"config": {"support": S}} for a in arms}}


def support_seeded(sgd_per_seed, gd=3.6):
    """--seeds K layout: per-seed finals, exact-support counts in the table."""
    k = len(sgd_per_seed)
    finals = {"SGD b=1": sgd_per_seed, "SGD b=512": [1.7] * k, "GD": [gd] * k,
              "GD + weight decay 0.1": [0.01] * k}
    exact = {"SGD b=1": k, "SGD b=512": 0, "GD": 0, "GD + weight decay 0.1": k}
    return {"finals": {a: [{"irrelevant_norm": v} for v in vs] for a, vs in finals.items()},
            "table": [{"arm": a, "exact_support": exact[a]} for a in finals]}


@pytest.mark.parametrize("sgd, expected", [
    (0.49 * 3.6, "reproduced"), (0.51 * 3.6, "partly"), (0.99 * 3.6, "partly"),
    (1.01 * 3.6, "not reproduced"), (1.99 * 3.6, "not reproduced"), (2.01 * 3.6, "opposite")])
def test_support_verdict_thresholds(sgd, expected):
    assert verdict_of("support", support_summary(sgd, large=8.0)) == expected


def test_support_verdict_needs_every_part_of_the_claim():
    assert verdict_of("support", support_summary(0.1)) == "reproduced"
    assert verdict_of("support", support_summary(0.1, exact=False)) == "partly"
    assert verdict_of("support", support_summary(0.1, gd_exact=True)) == "partly"
    assert verdict_of("support", support_summary(0.1, reg=0.51 * 3.6)) == "partly"
    assert verdict_of("support", support_summary(0.1, large=0.09)) == "partly"
    result = load_script("support").verdict(support_summary(0.1))
    assert result["seeds"] == 1 and "no spread" in result["spread"]


def test_support_verdict_over_seeds_needs_every_seed():
    assert verdict_of("support", support_seeded([0.1, 0.12, 0.11])) == "reproduced"
    assert verdict_of("support", support_seeded([0.1, 0.12, 0.51 * 3.6])) == "partly"
    result = load_script("support").verdict(support_seeded([0.1, 0.12, 0.11]))
    assert result["seeds"] == 3 and "3 seeds" in result["spread"]


# ---- init_dependence.py -------------------------------------------------------------------
def init_row(b, spread, exact, seeds=4, wobble=0.0, pairs=True):
    """A table row whose pairs of seeds are `spread` apart (+- wobble on alternate pairs)."""
    k = seeds * (seeds - 1) // 2
    d = [spread * (1 + (wobble if i % 2 else -wobble)) for i in range(k)]
    row = {"b": b, "seeds": seeds, "spread_final": sum(d) / k,
           "support_exact_fraction": exact}
    if pairs:
        row["pair_distances_final"] = d
    return row


@pytest.mark.parametrize("q, exact_small, expected", [
    (0.49, 1.0, "reproduced"), (0.51, 1.0, "partly"), (0.49, 0.0, "partly"),
    (1.0, 1.0, "not reproduced"), (1.99, 0.0, "not reproduced"), (2.01, 0.0, "opposite")])
def test_init_dependence_verdict_thresholds(q, exact_small, expected):
    summary = {"table": [init_row(2, q * 0.6, exact_small), init_row(128, 0.6, 0.5)]}
    assert verdict_of("init_dependence", summary) == expected


def test_init_dependence_verdict_weighs_the_seed_spread():
    """q = 0.8 is below 1 by more than 2 SE when the pairs agree, not when they scatter;
    without per-pair distances (older summaries) there is no SE."""
    steady = {"table": [init_row(2, 0.48, 1.0), init_row(128, 0.6, 0.0)]}
    noisy = {"table": [init_row(2, 0.48, 1.0, wobble=0.9), init_row(128, 0.6, 0.0)]}
    assert verdict_of("init_dependence", steady) == "partly"
    assert verdict_of("init_dependence", noisy) == "not reproduced"
    old = {"table": [init_row(2, 0.1, 1.0, pairs=False), init_row(128, 0.6, 0.0, pairs=False)]}
    assert verdict_of("init_dependence", old) == "partly"


# ---- variants.py --------------------------------------------------------------------------
def variants_summary(ratios, gd=4.0):
    rows = []
    for i, r in enumerate(ratios):
        rows += [{"variant": f"v{i}", "optimizer": "SGD b=8", "irrelevant_final": r * gd},
                 {"variant": f"v{i}", "optimizer": "GD", "irrelevant_final": gd}]
    return {"table": rows}


@pytest.mark.parametrize("ratios, expected", [
    ([0.49] * 5, "reproduced"), ([0.49] * 4 + [0.51], "partly"),
    ([0.9] * 5, "partly"), ([0.9] * 4 + [1.1], "not reproduced"),
    ([0.9] * 7 + [1.1], "partly"), ([1.1] * 5, "opposite"), ([1.1] * 4 + [0.9], "not reproduced")])
def test_variants_verdict_thresholds(ratios, expected):
    assert verdict_of("variants", variants_summary(ratios)) == expected


# ---- eta_over_b.py ------------------------------------------------------------------------
def eta_runs(alpha, beta, noise=0.02):
    """Runs on the default grid with rate = eta^alpha b^beta times a fixed +-noise pattern."""
    runs = []
    for i, (lr, R) in enumerate((lr, R) for R in (40, 160, 640, 2560)
                                for lr in (0.025, 0.05, 0.1, 0.2)):
        b = round(lr * R)
        runs.append({"lr": lr, "b": b, "ratio": lr / b,
                     "rate": lr ** alpha * b ** beta * (1 + noise * (-1) ** (i * (i + 1) // 2))})
    return {"runs": runs}


@pytest.mark.parametrize("alpha, beta, expected", [
    (1.0, -1.0, "reproduced"), (1.0, -0.9, "partly"), (2.6, -0.77, "partly"),
    (1.0, 0.0, "not reproduced"), (0.0, 0.0, "not reproduced"), (-1.0, 1.0, "opposite")])
def test_eta_over_b_verdict_thresholds(alpha, beta, expected):
    assert verdict_of("eta_over_b", eta_runs(alpha, beta)) == expected


def test_eta_over_b_verdict_needs_four_shrinking_runs():
    summary = eta_runs(1.0, -1.0)
    for r in summary["runs"][3:]:
        r["rate"] = -0.001
    result = load_script("eta_over_b").verdict(summary)
    assert checked(result)["verdict"] == "not reproduced" and result["value"] is None


# ---- modified_loss.py ---------------------------------------------------------------------
def modified_summary(flow, full, control=0.0, sgd=(3.9, 3.9), gd=4.1):
    """SGD ends at `sgd` per batch order, GD at `gd`; GD on C_SGD with 4 (1) sub-steps ends
    `flow` (`full`) of the way from GD to SGD's mean, GD on C + (eta/4)|grad C|^2 `control`."""
    gap = gd - sum(sgd) / len(sgd)
    table = [{"kind": "sgd", "irrelevant_final": sum(sgd) / len(sgd)},
             {"kind": "gd", "irrelevant_final": gd}]
    for k, where in ((1, full), (4, flow)):
        table += [{"kind": f"c_sgd/{k}", "irrelevant_final": gd - where * gap},
                  {"kind": f"grad_norm/{k}", "irrelevant_final": gd - control * gap}]
    runs = {f"SGD b=8 (order {i})": {"final": {"irrelevant_norm": v}} for i, v in enumerate(sgd)}
    return {"table": table, "runs": runs}


@pytest.mark.parametrize("flow, full, control, expected", [
    (0.51, 0.51, 0.0, "reproduced"), (1.5, 0.0, 0.49, "reproduced"),
    (0.51, 0.51, 0.51, "partly"), (0.49, 0.51, 0.0, "partly"), (0.49, 0.49, 0.0, "not reproduced"),
    (-0.49, -0.51, 0.0, "not reproduced"), (-0.51, -0.51, 0.0, "opposite")])
def test_modified_loss_verdict_thresholds(flow, full, control, expected):
    assert verdict_of("modified_loss", modified_summary(flow, full, control)) == expected


def test_modified_loss_verdict_when_sgd_does_not_shrink_more_than_gd():
    result = load_script("modified_loss").verdict(modified_summary(1.0, 1.0, sgd=(4.2, 4.2)))
    assert checked(result)["verdict"] == "not reproduced" and result["value"] is None
    spread = load_script("modified_loss").verdict(modified_summary(0.6, 1.0, sgd=(3.8, 4.0)))
    assert spread["seeds"] == 2 and "2 SGD batch orders" in spread["spread"]


# ---- large_steps_diag.py ------------------------------------------------------------------
def diag_summary(big, small=None, gd_lower=True, medians=(180, 150, 100)):
    """One draw; per SGD seed, the decay-50% run's (l0, test) in `big` against the small
    constant step's (200, 1e-3); GD: one run per arm."""
    small = small or [(200, 1e-3)] * len(big)
    run = lambda l0, test: {"l0_1e-50": l0, "test_loss": test, "diverged": False}
    runs = {"small const": [run(*v) for v in small], "large, decay 50%": [run(*v) for v in big],
            "GD small const": [run(100, 0.2)],
            "GD large, decay 50%": [run(90, 0.1 if gd_lower else 0.4)]}
    table = [{"arm": "small const", "l0_median": 200.0, "l0_q25": 200, "l0_q75": 200,
              "runs": len(small), "diverged": 0}]
    table += [{"arm": f"large, decay {p}%", "l0_median": float(m), "l0_q25": m, "l0_q75": m,
               "runs": len(big), "diverged": 0} for p, m in zip((10, 30, 50), medians)]
    return {"draws": [{"runs": runs}], "table": table}


@pytest.mark.parametrize("big, kw, expected", [
    ([(100, 1e-4)] * 5, {}, "reproduced"),                       # 5 of 5: p = 1/32
    ([(100, 1e-4)] * 5, {"gd_lower": False}, "partly"),
    ([(100, 1e-4)] * 5, {"medians": (100, 150, 100)}, "partly"),
    ([(100, 1e-4)] * 4 + [(201, 2e-3)], {}, "not reproduced"),  # 4 of 5: p = 6/32
    ([(100, 2e-3)] * 5, {}, "partly"),                           # sparser, worse test
    ([(201, 2e-3)] * 5, {}, "opposite")])
def test_large_steps_diag_verdict_thresholds(big, kw, expected):
    assert verdict_of("large_steps_diag", diag_summary(big, **kw)) == expected


def test_large_steps_diag_verdict_drops_diverged_pairs():
    summary = diag_summary([(100, 1e-4)] * 5)
    summary["draws"][0]["runs"]["large, decay 50%"][0]["diverged"] = 1234     # 4 pairs left
    assert verdict_of("large_steps_diag", summary) == "not reproduced"


# ---- sgd_noise_shape.py -------------------------------------------------------------------
def noise_run(b, zhu, share, tail_median, task="headline"):
    """A run whose last point has Zhu ratio `zhu`, Sigma's share in H's top 5 `share` x the
    random k/D = 0.01, and a per-coordinate alpha median against a null band [1.8, 2.2]."""
    tails = [1.5, tail_median, tail_median - 0.2, tail_median + 0.2, 100, 1.5, 1.8, 2.2, 0]
    return {"task": task, "b": b, "points": [{"zhu_ratio": zhu, "sigma_in_top5": 0.01 * share,
                                              "random_baseline": 0.01,
                                              "tails": {str(b): tails}}]}


@pytest.mark.parametrize("zhu, share, expected", [
    ((2.01, 2.01, 2.01, 2.01), (3, 3, 3, 3), "reproduced"),
    ((1.99, 2.01, 2.01, 2.01), (3, 3, 3, 3), "partly"),
    ((2.01, 2.01, 2.01, 2.01), (1.99, 1.99, 3, 3), "partly"),
    ((2.01, 1.99, 1.99, 1.99), (3, 3, 3, 3), "not reproduced"),
    ((0.49, 0.49, 1.99, 1.99), (3, 3, 3, 3), "opposite"),
    ((0.51, 0.49, 1.99, 1.99), (3, 3, 3, 3), "not reproduced")])
def test_sgd_noise_shape_alignment_thresholds(zhu, share, expected):
    runs = [noise_run(b, z, s, 2.0) for b, z, s in zip((1, 32, 128, 512), zhu, share)]
    assert verdict_of("sgd_noise_shape", {"runs": runs}, part="alignment") == expected


@pytest.mark.parametrize("medians, expected", [
    ((1.79, 1.79, 1.79, 2.0), "reproduced"), ((1.79, 1.79, 2.0, 2.0), "partly"),
    ((1.81, 2.0, 2.0, 2.0), "not reproduced"), ((1.79, 2.0, 2.0, 2.0), "partly"),
    ((2.21, 2.21, 2.21, 2.0), "opposite"), ((2.21, 2.21, 2.0, 2.0), "not reproduced")])
def test_sgd_noise_shape_tail_thresholds(medians, expected):
    runs = [noise_run(b, 5.0, 10, m) for b, m in zip((1, 32, 128, 512), medians)]
    assert verdict_of("sgd_noise_shape", {"runs": runs}, part="tails") == expected


def test_sgd_noise_shape_combined_verdict():
    aligned = [noise_run(b, 5.0, 10, m) for b, m in zip((1, 32), (1.7, 2.0))]
    assert verdict_of("sgd_noise_shape", {"runs": aligned}, part="alignment") == "reproduced"
    assert verdict_of("sgd_noise_shape", {"runs": aligned}, part="tails") == "partly"
    assert verdict_of("sgd_noise_shape", {"runs": aligned}) == "partly"
    both = [noise_run(b, 5.0, 10, 1.7) for b in (1, 32)]
    assert verdict_of("sgd_noise_shape", {"runs": both}) == "reproduced"
    neither = [noise_run(b, 1.0, 1, 2.0) for b in (1, 32)]
    assert verdict_of("sgd_noise_shape", {"runs": neither}) == "not reproduced"
    with pytest.raises(ValueError, match="part"):
        load_script("sgd_noise_shape").verdict({"runs": both}, part="shape")


# ---- end to end: small real runs ----------------------------------------------------------
TINY = {
    "support": ["--sgd-steps", "300", "--gd-steps", "100", "--reg-steps", "100", "--n", "200",
                "--batch-sizes", "1,32", "--seeds", "3", "--workers", "1"],
    "init_dependence": ["--seeds", "3", "--steps", "300", "--n", "100", "--batch-sizes", "2,32",
                        "--workers", "1"],
    "variants": ["--steps", "200", "--n", "100", "--only", "0,1", "--workers", "1"],
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_verdict_from_a_real_summary(name, tmp_path, capsys):
    """main() writes summary.json; verdict() of its JSON is a valid verdict, the same on a
    second read (nothing but the file decides it)."""
    out = str(tmp_path / name)
    load_script(name).main(TINY[name] + ["--out", out])
    with open(os.path.join(out, "summary.json")) as fh:
        summary = json.load(fh)
    result = checked(load_script(name).verdict(summary))
    assert result["seeds"] == {"support": 3, "init_dependence": 3, "variants": 1}[name]
    assert isinstance(result["value"], float)
    with open(os.path.join(out, "summary.json")) as fh:
        assert load_script(name).verdict(json.load(fh)) == result
