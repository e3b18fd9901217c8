"""The command line, run as a user runs it."""

import json
import os
import subprocess
import sys

import pytest

TINY_FLAGS = [
    # The 3-digit defaults with these changes, not the 2-digit recipe.
    "--config=default",
    "--digits=2",
    "--training_size=600",
    "--epochs=2",
    "--batch_size=32",
    "--hidden_size=16",
    "--num_samples=1",
]


def run_main(*flags: str, timeout: float = 300) -> subprocess.CompletedProcess:
    # On the CPU backend even where an accelerator is present: --cpu_devices
    # and device counts are checked below.
    return subprocess.run(
        [sys.executable, "-m", "jaxadd.main", *flags],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )


def test_tiny_run_writes_config_and_metrics(tmp_path):
    workdir = tmp_path / "run"
    result = run_main(*TINY_FLAGS, f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr
    assert "epoch   2" in result.stdout
    info = json.loads((workdir / "config.json").read_text())
    assert info["config"]["digits"] == 2
    assert info["num_params"] > 0
    assert info["jax_version"] and info["flax_version"] and info["devices"]
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    metrics = [json.loads(line) for line in lines]
    assert [m["epoch"] for m in metrics] == [1, 2]
    required = {
        "epoch",
        "step",
        "train_loss",
        "val_loss",
        "val_char_accuracy",
        "val_exact_accuracy",
        "train_examples_per_sec",
        "elapsed_sec",
    }
    assert required <= set(metrics[-1])
    assert metrics[-1]["step"] == 2 * (540 // 32)


@pytest.mark.parametrize(
    "flag,message",
    [
        ("--digits=0", "digits must be"),
        ("--training_size=-5", "training_size must be > 0"),
        ("--batch_size=100000", "batch_size 100000 is larger"),
        ("--training_size=60", "exceeds the 55 distinct"),
        ("--epochs=0", "epochs must be > 0"),
        ("--val_fraction=1.5", "val_fraction must be"),
        ("--hidden_size=-1", "hidden_size must be > 0"),
        ("--learning_rate=-1", "learning_rate must be > 0"),
        ("--target_accuracy=2", "target_accuracy must be"),
        ("--leading_pads=17", "leading_pads must be in 0..16, got 17"),
        ("--forget_bias=inf", "forget_bias must be finite, got inf"),
        ("--warmup_steps=-1", "warmup_steps must be >= 0, got -1"),
        ("--warmup_steps=100000", "warmup_steps 100000 leaves no steps to decay"),
        ("--seed=-1", "seed must be in 0..2147483647"),
        ("--seed=2147483648", "seed must be in 0..2147483647"),
        ("--digits=abc", "digits"),
        ("--cpu_devices=0", "cpu_devices must be >= 1, got 0"),
        ("--cpu_devices=9", "cpu_devices 9 exceeds batch_size 8"),
        ("--cpu_devices=3", "batch_size 8 does not divide evenly over 3 devices"),
    ],
)
def test_bad_flag_exits_with_one_clear_line(flag, message):
    # --digits=1 first so that --training_size=60 is impossible; the flag under
    # test comes last and wins where it repeats one.
    result = run_main(
        "--digits=1", "--training_size=50", "--batch_size=8", flag, timeout=60
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_cpu_devices_splits_the_cpu_and_keeps_the_metrics(tmp_path):
    # 1 device, then the CPU split into 2: the data order depends on the seed
    # alone, so only float rounding (the gradient all-reduce) may differ.
    metrics = {}
    for count in (1, 2):
        workdir = tmp_path / f"devices{count}"
        result = run_main(*TINY_FLAGS, f"--workdir={workdir}", f"--cpu_devices={count}")
        assert result.returncode == 0, result.stderr
        assert f"{count} device(s) [cpu]" in result.stdout
        info = json.loads((workdir / "config.json").read_text())
        assert len(info["devices"]) == count
        lines = (workdir / "metrics.jsonl").read_text().splitlines()
        metrics[count] = [json.loads(line) for line in lines]
    for one, two in zip(metrics[1], metrics[2], strict=True):
        assert two["step"] == one["step"]
        assert two["train_loss"] == pytest.approx(one["train_loss"], rel=1e-4)
        assert two["val_loss"] == pytest.approx(one["val_loss"], rel=1e-4)
