"""TensorBoard event files: each epoch's metrics once, across resumes, no TensorFlow."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
from conftest import TINY

from jaxadd import progress, summaries, train

# A constant rate: a run of 2 epochs resumed for a third is a run of 3.
CONFIG = dataclasses.replace(TINY, num_samples=0)


def metrics_lines(workdir) -> list[dict]:
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def assert_curves_match_metrics(workdir) -> dict:
    """Each metric once per epoch, at the epoch's last step; the scalars read."""
    scalars = summaries.read_scalars(os.path.join(workdir, "tensorboard"))
    lines = metrics_lines(workdir)
    names = {k for k, v in lines[0].items() if k not in ("epoch", "step")}
    assert set(scalars) - {"step_loss"} == names
    for name in names:
        steps = scalars[name]
        assert sorted(steps) == [m["step"] for m in lines], name
        for metrics in lines:
            # Stored as float32, as TensorBoard keeps every scalar.
            assert steps[metrics["step"]] == np.float32(metrics[name]), name
    return scalars


def test_every_epoch_is_a_scalar_and_tensorflow_is_never_imported(tmp_path):
    workdir = tmp_path / "run"
    code = (
        "import dataclasses, json, sys\n"
        "from jaxadd import configs, train\n"
        "config = dataclasses.replace(configs.get('tiny'), num_samples=0)\n"
        f"train.train_and_evaluate(config, {str(workdir)!r}, log=lambda line: None)\n"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('tensorflow', 'tensorboard'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    (event_file,) = os.listdir(workdir / "tensorboard")
    assert event_file.startswith("events.out.tfevents.")
    assert "step_loss" not in assert_curves_match_metrics(workdir)


def test_a_resumed_run_continues_the_same_curves_without_repeats(tmp_path):
    workdir = str(tmp_path / "run")
    quiet = lambda line: None  # noqa: E731
    train.train_and_evaluate(dataclasses.replace(CONFIG, epochs=2), workdir, log=quiet)
    # Events of an epoch that the checkpoints lost (say its checkpoint was
    # damaged): the resumed run trains it again, and TensorBoard shows it once.
    steps = CONFIG.steps_per_epoch
    stale = summaries.EventLog(workdir, first_step=2 * steps + 1)
    stale.write_epoch({"epoch": 3, "step": 3 * steps, "train_loss": 123.0})
    train.train_and_evaluate(dataclasses.replace(CONFIG, epochs=3), workdir, log=quiet)
    assert len(os.listdir(os.path.join(workdir, "tensorboard"))) == 3
    assert_curves_match_metrics(workdir)
    uninterrupted = str(tmp_path / "once")
    train.train_and_evaluate(
        dataclasses.replace(CONFIG, epochs=3), uninterrupted, log=quiet
    )
    assert [m["train_loss"] for m in metrics_lines(workdir)] == [
        m["train_loss"] for m in metrics_lines(uninterrupted)
    ]


def test_the_steps_shown_inside_epochs_are_curves_too(tmp_path, quiet):
    workdir = str(tmp_path / "run")
    shown = progress.EpochProgress("none")  # reports taken, nothing printed
    train.train_and_evaluate(CONFIG, workdir, log=quiet, steps_shown=shown)
    step_loss = assert_curves_match_metrics(workdir)["step_loss"]
    # 16 steps an epoch, each epoch reporting its first and, fast as it is,
    # its last alone: the next report would be half a second on
    # (progress.REPORT_INTERVAL_SEC).
    steps = CONFIG.steps_per_epoch
    assert sorted(step_loss) == [1, steps, steps + 1, 2 * steps]
    assert all(np.isfinite(list(step_loss.values())))


def test_a_run_already_done_adds_no_event_file(tmp_path):
    workdir = str(tmp_path / "run")
    config = dataclasses.replace(CONFIG, epochs=1)
    train.train_and_evaluate(config, workdir, log=lambda line: None)
    train.train_and_evaluate(config, workdir, log=lambda line: None)
    assert len(os.listdir(os.path.join(workdir, "tensorboard"))) == 1


def test_a_damaged_record_is_reported(tmp_path):
    log = summaries.EventLog(str(tmp_path), first_step=1)
    log.write_epoch({"epoch": 1, "step": 10, "train_loss": 0.5})
    with open(log.path, "r+b") as f:
        f.seek(-3, os.SEEK_END)
        f.write(b"xyz")
    try:
        summaries.read_scalars(str(tmp_path / "tensorboard"))
    except ValueError as err:
        assert "damaged record" in str(err)
    else:
        raise AssertionError("a damaged record was read")
