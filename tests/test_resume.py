"""Checkpoints and resume: killed runs end exactly as uninterrupted ones."""

import json
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxadd import checkpoint, train
from jaxadd.config import Config

EPOCHS = 10
FLAGS = [
    # The 3-digit defaults with these changes, not the 2-digit recipe.
    "--config=default",
    "--digits=2",
    "--training_size=1000",
    "--batch_size=32",
    "--hidden_size=16",
    f"--epochs={EPOCHS}",
    "--num_samples=1",
    "--seed=3",
]
TIMING = {"train_examples_per_sec", "epoch_sec", "elapsed_sec"}
# Generous: the machine running the tests may be shared and slow.
TIMEOUT = 300


def main_command(workdir: pathlib.Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "jaxadd.main", *FLAGS, f"--workdir={workdir}", *extra]


def run_main(workdir: pathlib.Path, *extra: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        main_command(workdir, *extra), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert "Traceback" not in result.stdout + result.stderr
    return result


def metrics(workdir: pathlib.Path) -> list[dict]:
    """Every epoch's metrics line, without the timing fields (never equal)."""
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    return [
        {k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines
    ]


def saved_state(workdir: pathlib.Path):
    """The newest checkpoint's full state (params, optimizer state, step)."""
    config = Config.from_dict(checkpoint.read_config(str(workdir))["config"])
    template = jax.eval_shape(lambda: train.create_train_state(config))
    return checkpoint.restore_newest(str(workdir), template)


def assert_same_run(workdir: pathlib.Path, reference: pathlib.Path) -> None:
    got, want = metrics(workdir), metrics(reference)
    assert [m["epoch"] for m in got] == list(range(1, EPOCHS + 1))
    assert got == want  # bit for bit: losses, accuracies and steps
    (state, epoch), (ref_state, ref_epoch) = (
        saved_state(workdir),
        saved_state(reference),
    )
    assert epoch == ref_epoch == EPOCHS
    leaves, ref_leaves = jax.tree.leaves(state), jax.tree.leaves(ref_state)
    assert len(leaves) == len(ref_leaves)
    for x, y in zip(leaves, ref_leaves):
        np.testing.assert_array_equal(x, y)


def file_contents(workdir: pathlib.Path) -> dict[str, bytes]:
    """Every file of a workdir but its lock, whose content is its holder's pid."""
    return {
        str(path.relative_to(workdir)): path.read_bytes()
        for path in workdir.rglob("*")
        if path.is_file() and path.name != checkpoint.LOCK_FILE
    }


def damage(checkpoint_dir: pathlib.Path) -> None:
    """Truncates every array file, as a full disk or a torn copy would."""
    for path in (checkpoint_dir / "state").rglob("*"):
        if path.is_file():
            path.write_bytes(path.read_bytes()[:10])


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pathlib.Path:
    """An uninterrupted run with FLAGS."""
    workdir = tmp_path_factory.mktemp("resume") / "reference"
    result = run_main(workdir)
    assert result.returncode == 0, result.stderr
    return workdir


def test_killed_run_resumes_to_the_same_metrics_and_parameters(reference, tmp_path):
    workdir = tmp_path / "run"
    metrics_path = workdir / "metrics.jsonl"
    stderr_path = tmp_path / "stderr.txt"
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            main_command(workdir), stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        # Kill as soon as the first epoch is recorded: the run is then saving
        # or computing the next one, with nine more to go.
        deadline = time.monotonic() + TIMEOUT
        while not (metrics_path.exists() and metrics_path.read_text()):
            assert process.poll() is None, stderr_path.read_text()
            assert time.monotonic() < deadline, "no epoch finished in time"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before the kill"
    killed_at = len(metrics(workdir))
    assert 1 <= killed_at < EPOCHS

    result = run_main(workdir)
    assert result.returncode == 0, result.stderr
    assert "Resumed from" in result.stdout
    assert_same_run(workdir, reference)


def test_damaged_newest_checkpoint_falls_back_to_the_one_before(reference, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(reference, workdir)
    damage(workdir / "checkpoints" / str(EPOCHS))

    result = run_main(workdir)
    assert result.returncode == 0, result.stderr
    assert f"Checkpoint of epoch {EPOCHS} is unreadable" in result.stdout
    assert f"Resumed from {workdir / 'checkpoints'} after epoch {EPOCHS - 1}" in (
        result.stdout
    )
    # The last epoch ran again, and was saved again: a restore finds it whole.
    assert_same_run(workdir, reference)


def test_no_readable_checkpoint_fails_with_one_line(reference, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(reference, workdir)
    for checkpoint_dir in (workdir / "checkpoints").iterdir():
        damage(checkpoint_dir)
    before = file_contents(workdir)

    result = run_main(workdir)
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("jaxadd: error: no readable checkpoint in")
    assert file_contents(workdir) == before


@pytest.mark.parametrize(
    "flags,differences",
    [
        (["--digits=3"], ["digits 2 -> 3"]),
        (
            ["--hidden_size=32", "--noreverse"],
            ["hidden_size 16 -> 32", "reverse True -> False"],
        ),
    ],
)
def test_other_settings_are_refused_and_the_run_kept(
    reference, tmp_path, flags, differences
):
    workdir = tmp_path / "run"
    shutil.copytree(reference, workdir)
    before = file_contents(workdir)

    result = run_main(workdir, *flags)
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"jaxadd: error: {workdir} holds a run with other")
    for difference in differences:
        assert difference in errors[0]
    assert file_contents(workdir) == before


def test_which_settings_may_change_on_resume():
    def differences(old: dict, new: dict) -> list[str]:
        return checkpoint.config_differences(
            Config(**old).to_dict(), Config(**new).to_dict()
        )

    constant = {"lr_schedule": "constant", "epochs": 10, "learning_rate": 0.001}
    assert differences(constant, {**constant, "epochs": 20}) == []
    assert differences(constant, {**constant, "num_samples": 0}) == []
    assert differences(constant, {**constant, "target_accuracy": 0.9}) == []
    assert differences(constant, {**constant, "learning_rate": 0.5}) == [
        "learning_rate 0.001 -> 0.5"
    ]
    # A cosine schedule decays over all epochs: more of them is another run.
    cosine = {**constant, "lr_schedule": "cosine"}
    assert differences(cosine, {**cosine, "epochs": 20}) == ["epochs 10 -> 20"]
    assert differences(constant, cosine) == ["lr_schedule 'constant' -> 'cosine'"]


def test_a_workdir_from_before_a_setting_existed_opens_with_its_default(tmp_path):
    # A config.json written before lstm_backward existed lacks the key; its
    # default computes what that run computed, so the run may resume.
    workdir = tmp_path / "run"
    workdir.mkdir()
    config = Config(digits=2, training_size=600, batch_size=32)
    old = config.to_dict()
    del old["lstm_backward"]
    (workdir / "config.json").write_text(json.dumps({"config": old}))
    checkpoint.RunStore(str(workdir), {"config": config.to_dict()}).close()
    other = Config(**{**old, "lstm_backward": "autodiff"})
    with pytest.raises(checkpoint.WorkdirError, match="'manual' -> 'autodiff'"):
        checkpoint.RunStore(str(workdir), {"config": other.to_dict()})


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(
    tmp_path, monkeypatch
):
    config = Config(
        digits=2,
        training_size=600,
        epochs=4,
        batch_size=32,
        hidden_size=16,
        learning_rate=1e-3,
        # A schedule, as below, so the checkpoint has the real optimizer's
        # structure and saved_state can read it.
        lr_schedule="cosine",
        num_samples=0,
    )
    good_steps = 2 * config.steps_per_epoch

    def diverging_optimizer(config):
        # Sane for two epochs, then a rate that overflows float32 parameters:
        # the third epoch's loss comes out inf or NaN from the real computation.
        return optax.adam(lambda count: jnp.where(count < good_steps, 1e-3, 1e38))

    workdir = tmp_path / "run"
    monkeypatch.setattr(train, "make_optimizer", diverging_optimizer)
    with pytest.raises(train.TrainingError, match="non-finite loss at epoch 3") as err:
        train.train_and_evaluate(config, str(workdir), log=lambda line: None)
    assert "\n" not in str(err.value)
    assert [m["epoch"] for m in metrics(workdir)] == [1, 2]
    # The newest checkpoint is epoch 2's, whole and finite: a restart goes on
    # from there.
    state, epoch = saved_state(workdir)
    assert epoch == 2
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(state))


def test_non_finite_loss_from_the_command_line_is_one_line(tmp_path):
    # 1e38 overflows at once: nothing good to keep, and the run says why.
    workdir = tmp_path / "run"
    result = run_main(workdir, "--learning_rate=1e38", "--epochs=2")
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("jaxadd: error: non-finite loss at epoch 1")
    assert (workdir / "metrics.jsonl").read_text() == ""
