"""``python -m jaxadd.plot``: the picture of real runs, and one line for each fault."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import TINY

from jaxadd import train


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny runs in workdirs, and a folder holding two more as seed_K."""
    root = tmp_path_factory.mktemp("runs")
    for name, seed in (("a", 0), ("b", 1), ("sweep/seed_0", 2), ("sweep/seed_1", 3)):
        config = dataclasses.replace(TINY, seed=seed, epochs=3, num_samples=0)
        train.train_and_evaluate(config, str(root / name), log=lambda line: None)
    return root


def plot(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jaxadd.plot", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def assert_one_line(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("jaxadd.plot: error: "), result.stderr
    assert result.stderr.count("\n") == 1 and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_draws_every_run_of_the_workdirs(runs, tmp_path):
    import matplotlib.image

    out = tmp_path / "curves.png"
    result = plot(str(runs / "a"), str(runs / "b"), str(runs / "sweep"), f"--out={out}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {out}: 4 run(s)\n"
    image = matplotlib.image.imread(out)
    assert image.shape[:2] == (700, 1600)
    # Not a blank canvas: lines in several colours were drawn.
    assert len({tuple(pixel) for pixel in image.reshape(-1, image.shape[-1])}) > 50
    assert not os.path.exists(f"{out}.tmp")


def test_epochs_older_than_a_metric_leave_it_out(runs, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(runs / "a", old)
    lines = (old / "metrics.jsonl").read_text().splitlines()
    stripped = []
    for line in lines:
        metrics = json.loads(line)
        del metrics["uniform_exact_accuracy"], metrics["longest_chain_exact_accuracy"]
        stripped.append(json.dumps(metrics))
    (old / "metrics.jsonl").write_text("\n".join(stripped) + "\n")
    result = plot(str(old), f"--out={tmp_path / 'old.png'}")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "old.png").stat().st_size > 10_000


def test_faults_are_one_line(runs, tmp_path):
    out = f"--out={tmp_path / 'x.png'}"
    assert_one_line(plot(out), "name at least one workdir")
    assert_one_line(plot(str(tmp_path / "nothing"), out), "is not a directory")
    (tmp_path / "empty").mkdir()
    assert_one_line(plot(str(tmp_path / "empty"), out), "holds no metrics.jsonl")
    damaged = tmp_path / "damaged"
    shutil.copytree(runs / "a", damaged)
    with open(damaged / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 4, "train_lo\n')
    assert_one_line(plot(str(damaged), out), "metrics.jsonl line 4 is not JSON")
    assert_one_line(
        plot(str(runs / "a"), f"--out={tmp_path / 'no' / 'such' / 'x.png'}"),
        "cannot write",
    )
    assert not os.path.exists(tmp_path / "x.png")


def test_missing_matplotlib_is_one_line(runs, tmp_path):
    # A matplotlib that cannot be imported, found before the real one.
    fake = tmp_path / "fake" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "fake"))
    result = plot(str(runs / "a"), f"--out={tmp_path / 'x.png'}", env=env)
    assert_one_line(result, "matplotlib is not installed: pip install -e '.[plot]'")
