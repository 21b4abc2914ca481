"""Table cells, list-valued options and the experiment scripts' closing report."""
import argparse
import json

import pytest

from minisgd.report.tables import fmt, markdown_table, number_list, write_report


def test_cells_and_table():
    assert fmt(None) == "–" and fmt(0.123456) == "0.123" and fmt(7) == "7"
    assert markdown_table(["a", "b"], [[1, 0.5], ["x", None]]).splitlines() == [
        "| a | b |", "|---|---|", "| 1 | 0.5 |", "| x | – |"]


def parser():
    p = argparse.ArgumentParser(prog="demo", exit_on_error=False)
    p.add_argument("--sizes", type=number_list(int, positive=True), default="1,32")
    p.add_argument("--lrs", type=number_list(float))
    return p


def test_number_list_parses_defaults_and_values():
    args = parser().parse_args(["--lrs", "0.1,-2e-3"])
    assert args.sizes == [1, 32] and args.lrs == [0.1, -0.002]


@pytest.mark.parametrize("argv,message", [
    (["--sizes", "1,x"], "argument --sizes: must be comma-separated ints, got '1,x'"),
    (["--sizes", "1.5"], "must be comma-separated ints"),
    (["--sizes", "4,0"], "argument --sizes: must be positive, got '4,0'"),
    (["--lrs", ""], "argument --lrs: must be comma-separated floats, got ''"),
])
def test_number_list_errors_name_the_flag(argv, message):
    with pytest.raises(argparse.ArgumentError) as info:
        parser().parse_args(argv)
    assert message in str(info.value)


def test_write_report_writes_json_and_prints(tmp_path, capsys):
    write_report(str(tmp_path), {"table": [1, 2]}, "| t |", start=0.0, note=" with 2 workers")
    assert json.loads((tmp_path / "summary.json").read_text()) == {"table": [1, 2]}
    out = capsys.readouterr().out
    assert out.startswith("| t |\n") and f"summary.json in {tmp_path}/" in out
    assert out.rstrip().endswith("s with 2 workers)")
