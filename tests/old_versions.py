"""An older minisgd, unpacked from git and run in a subprocess beside this one: the
comparisons of numbers, records and sweep folders across versions use it."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# script lines, run in the old version after it made `results` (Result objects): every
# history column and final parameter into the npz spec["out"], the finals as `finals`
SAVE_RESULTS = """
arrays = {}
for i, r in enumerate(results):
    arrays[f"theta{i}"] = r.net.theta
    for key, column in r.history.items():
        arrays[f"h{i}_{key}"] = np.array([np.nan if v is None else v for v in column])
np.savez(spec["out"], **arrays)
finals = [{k: v for k, v in r.final.items() if k != "wall_time"} for r in results]
"""


def unpack(commit, into):
    """minisgd/ at `commit`, extracted into the folder `into` (returned); the test is skipped
    where git or the commit is not available (an exported tree, a shallow clone)."""
    try:
        archive = subprocess.run(["git", "-C", ROOT, "archive", commit, "minisgd"],
                                 capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"minisgd at {commit[:10]} is not available from git here ({err}); this "
                    "test needs a git checkout with history")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_in(root, script, spec):
    """json.loads of what `python -c script json(spec)` prints, run with root's minisgd."""
    done = subprocess.run([sys.executable, "-c", script, json.dumps(spec)], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(root)), cwd=str(root),
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
