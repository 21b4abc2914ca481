"""`python -m minisgd report` (minisgd/report/audit.py, render.py): claims run into their
folders, a failed claim is reported and the others go on, a second report reruns nothing
that is current, changed settings rerun, and the HTML embeds every figure it shows."""
import json
import os
import re

import pytest

from minisgd.report import audit
from minisgd.report.claims import CLAIMS, Claim
from minisgd.report.render import write_pages

FAKE = '''"""A stand-in experiment: summary.json {"value": --value}, one figure, one table."""
import argparse
import json
import os
import sys


def verdict(summary):
    v = summary["value"]
    return dict(effect=f"value {v:g}", value=v, spread="± 0.1 (std over 3 seeds)", seeds=3,
                published="value 2", verdict="reproduced" if v > 1 else "not reproduced",
                rule="reproduced when the value exceeds 1")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--out")
    p.add_argument("--value", type=float, default=2.0)
    p.add_argument("--fail", action="store_true")
    args = p.parse_args()
    if args.fail:
        sys.exit("fake.py: error: it broke on purpose")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(args.out, exist_ok=True)
    plt.plot([0, 1], [0, args.value])
    plt.savefig(os.path.join(args.out, "curve.png"))
    with open(os.path.join(args.out, "summary.json"), "w") as fh:
        json.dump({"value": args.value}, fh)
    print("| arm | value |\\n|---|---|\\n| a | %g |" % args.value)
'''


@pytest.fixture
def experiments(tmp_path, monkeypatch):
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "fake.py").write_text(FAKE)
    monkeypatch.setattr(audit, "EXPERIMENTS", str(folder))
    return folder


def claims(**values):
    return [Claim(name, "fake", f"claim {name}", "fake data", quick=args, times=(1, 1))
            for name, args in values.items()]


def test_claims_run_a_failure_is_reported_and_the_pages_embed_every_figure(experiments,
                                                                          tmp_path):
    out = str(tmp_path / "report")
    done = audit.run_claims(claims(good=("--value", "2"), bad=("--fail",),
                                   low=("--value", "0.5")), "quick", out)
    assert [r["status"] for _, r in done] == ["ok", "failed", "ok"]
    assert "it broke on purpose" in done[1][1]["error"]
    md_path, html_path = write_pages(out, done, "quick", audit.claim_verdict)
    md, page = open(md_path).read(), open(html_path).read()
    rows = [line for line in md.splitlines() if line.startswith("| good:") or
            line.startswith("| bad:") or line.startswith("| low:")]
    assert "| reproduced |" in rows[0] and "| failed |" in rows[1] and \
        "| not reproduced |" in rows[2]
    assert "reproduced when the value exceeds 1" in rows[0]
    assert "![curve.png](good/curve.png)" in md and "| a | 0.5 |" in md
    sources = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "it broke on purpose" in page


def test_a_second_report_reruns_nothing_current_and_reruns_what_changed(experiments, tmp_path):
    out = str(tmp_path / "report")
    first = audit.run_claims(claims(good=("--value", "2"), bad=("--fail",)), "quick", out)
    stamp = os.path.getmtime(os.path.join(out, "good", "claim.json"))
    again = audit.run_claims(claims(good=("--value", "2"), bad=("--fail",)), "quick", out)
    assert again[0][1] == first[0][1]                                  # kept, not rerun
    assert os.path.getmtime(os.path.join(out, "good", "claim.json")) == stamp
    assert again[1][1]["status"] == "failed"                           # a failure is retried
    changed = audit.run_claims(claims(good=("--value", "3")), "quick", out)
    assert changed[0][1]["settings"]["args"] == ["--value", "3"]
    with open(os.path.join(out, "good", "summary.json")) as fh:
        assert json.load(fh) == {"value": 3.0}


def test_an_interrupted_claim_is_rerun(experiments, tmp_path):
    """A claim whose claim.json was never written (the report stopped inside it) runs."""
    out = str(tmp_path / "report")
    audit.run_claims(claims(good=("--value", "2")), "quick", out)
    os.unlink(os.path.join(out, "good", "claim.json"))
    done = audit.run_claims(claims(good=("--value", "2")), "quick", out)
    assert done[0][1]["status"] == "ok"


def test_a_verdict_that_breaks_its_contract_is_shown_as_an_error(experiments, tmp_path):
    (experiments / "fake.py").write_text(FAKE.replace('"reproduced" if', '"fine" if'))
    out = str(tmp_path / "report")
    done = audit.run_claims(claims(good=("--value", "2")), "quick", out)
    md = open(write_pages(out, done, "quick", audit.claim_verdict)[0]).read()
    assert "| failed |" in md and "verdict one of" in md


def test_a_claim_whose_dataset_package_is_missing_is_skipped(experiments, tmp_path,
                                                             monkeypatch):
    from minisgd.data import real

    def missing(name):
        raise real.MissingPackage(f"dataset {name!r} needs a package: pip install -e '.[data]'")
    monkeypatch.setattr(real, "package_dir", missing)
    out = str(tmp_path / "report")
    wanted = [Claim("digits_claim", "fake", "claim", "data", quick=("--value", "2"),
                    times=(1, 1), dataset="digits")] + claims(good=("--value", "2"))
    done = audit.run_claims(wanted, "quick", out)
    assert [r["status"] for _, r in done] == ["skipped", "ok"]
    assert not os.path.exists(os.path.join(out, "digits_claim"))       # nothing ran
    md = open(write_pages(out, done, "quick", audit.claim_verdict)[0]).read()
    assert "| skipped | dataset 'digits' needs a package: pip install -e '.[data]' |" in md


def test_the_report_assembles_from_small_real_runs(tmp_path):
    """Two real experiment scripts at a tiny scale: each claim's verdict is computed from the
    summary.json its script wrote (a verdict the scripts' contract accepts, not an error),
    the figures are embedded, and a second report reruns nothing."""
    tiny = [Claim("support_tiny", "support", "SGD learns the support", "tiny",
                  quick=("--sgd-steps", "300", "--gd-steps", "30", "--reg-steps", "100",
                         "--n", "300", "--batch-sizes", "1,128", "--seeds", "2",
                         "--workers", "1"), times=(5, 5)),
            Claim("large_steps_tiny", "large_steps_relu", "large steps, sparse features",
                  "tiny", quick=("--data-seeds", "1", "--seeds", "1", "--steps", "120",
                                 "--workers", "1"), times=(5, 5))]
    out = str(tmp_path / "report")
    done = audit.run_claims(tiny, "quick", out)
    assert [r["status"] for _, r in done] == ["ok", "ok"], done
    for claim, _ in done:
        v = audit.claim_verdict(claim, os.path.join(out, claim.name))
        assert v.get("verdict") in audit.VERDICTS, v
    md_path, html_path = write_pages(out, done, "quick", audit.claim_verdict)
    md, page = open(md_path).read(), open(html_path).read()
    assert "| failed |" not in md and md.count("![") >= 3
    sources = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert len(sources) == md.count("![")
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    again = audit.run_claims(tiny, "quick", out)
    assert [r for _, r in again] == [r for _, r in done]


def test_the_cli_names_an_unknown_claim(capsys):
    from minisgd.__main__ import main
    with pytest.raises(SystemExit) as err:
        main(["report", "--only", "support,nope"])
    assert err.value.code == 2
    assert "argument --only" in capsys.readouterr().err


def test_every_registered_claim_names_an_existing_script_and_its_section():
    for claim in CLAIMS:
        assert os.path.isfile(os.path.join(audit.EXPERIMENTS, claim.script + ".py")), claim
        assert claim.section and claim.claim and claim.data
