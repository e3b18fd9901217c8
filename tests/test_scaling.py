"""Data parallelism over fake CPU devices and over two processes, and the notebook.

JAX fixes the number of CPU devices when it starts, so every run here is a
subprocess with ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``. The
training runs the comparisons need start together in one module fixture, so that
the machine's cores overlap them: 1 device for 2 epochs, 4 devices for 3, and two
processes of 2 devices each for 2; then those two processes resume their run for
a third epoch. Each test checks its part.
"""

import importlib.util
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxadd import checkpoint, summaries, train
from jaxadd.config import Config

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "experiments" / "colab_tpu.ipynb"

TINY_FLAGS = [
    # The 3-digit defaults with these changes, not the 2-digit recipe.
    "--config=default",
    "--digits=2",
    "--training_size=600",
    "--epochs=2",
    "--batch_size=32",
    "--hidden_size=16",
    # Constant: then --epochs changes no step's rate, so runs of 2 and 3 epochs
    # share their first two, and a run may be resumed for more.
    "--learning_rate=1e-3",
    "--lr_schedule=constant",
    "--num_samples=1",
]
MAIN = ("-m", "jaxadd.main")
# Compiles one epoch on every device there is and reports what each device
# gathers per step, whether gradients are summed across devices, and which
# other collectives the step has (none should move activations between devices).
SHARDING_PROBE = r"""
import json, re
import jax
from jax.sharding import NamedSharding, PartitionSpec
from jaxadd import data, train
from jaxadd.config import Config

config = Config(digits=2, training_size=600, batch_size=32, hidden_size=8)
mesh = train.make_mesh()
replicated = NamedSharding(mesh, PartitionSpec())
split, _ = data.make_splits(
    num_problems=600, digits=2, reverse=True, val_fraction=0.1, seed=0
)
state = jax.device_put(train.create_train_state(config), replicated)
queries = jax.device_put(split.queries, replicated)
answers = jax.device_put(split.answers, replicated)
epoch = train.make_train_epoch(mesh, config.batch_size)
key = train.epoch_key(0, 1)
hlo = epoch.lower(state, queries, answers, key).compile().as_text()
rows = re.findall(r"= s32\[(\d+)[,\]][^\n]*? gather\(", hlo)
others = ("all-gather", "all-to-all", "collective-permute", "reduce-scatter")
print(json.dumps({"gathered_rows": sorted({int(r) for r in rows}),
                  "all_reduce": "all-reduce" in hlo,
                  "other_collectives": [op for op in others if op in hlo]}))
"""
COMPARED = ("step", "train_loss", "val_loss", "val_char_accuracy", "val_exact_accuracy")
TIMEOUT_SEC = 300


def fake_devices_env(num_devices: int) -> dict[str, str]:
    env = dict(os.environ)
    flags = [
        flag
        for flag in env.get("XLA_FLAGS", "").split()
        if not flag.startswith("--xla_force_host_platform_device_count")
    ]
    flags.append(f"--xla_force_host_platform_device_count={num_devices}")
    # Compiling dominates these tiny runs; less LLVM optimization halves it, and
    # every run compared is compiled the same way.
    flags += [
        "--xla_backend_optimization_level=0",
        "--xla_llvm_disable_expensive_passes=true",
    ]
    env["XLA_FLAGS"] = " ".join(flags)
    # Fake devices are CPU devices: keep an accelerator, if any, out of it.
    env["JAX_PLATFORMS"] = "cpu"
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    """A Python subprocess on fake CPU devices, its output kept in files."""

    def __init__(self, name: str, tmp: pathlib.Path, num_devices: int, *args: str):
        self.name = name
        # The other processes of the same multi-process run.
        self.partners: list[Run] = []
        self.stdout_path = tmp / f"{name}.stdout"
        self.stderr_path = tmp / f"{name}.stderr"
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, *args],
                stdout=out,
                stderr=err,
                env=fake_devices_env(num_devices),
                cwd=tmp,
            )

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def report(self) -> str:
        return f"[{self.name}] exit {self.process.returncode}\n{self.stderr[-3000:]}"


def wait_all(runs: list[Run], timeout: float) -> None:
    """Waits for every run, killing those still going after ``timeout`` seconds.

    A process of a multi-process run whose partner died would wait minutes for
    it (ignoring SIGTERM), so it is killed as soon as a partner fails.
    """
    deadline = time.monotonic() + timeout
    while any(run.process.poll() is None for run in runs):
        for run in runs:
            partner_failed = any(
                p.process.poll() not in (None, 0) for p in run.partners
            )
            if run.process.poll() is None and (
                partner_failed or time.monotonic() > deadline
            ):
                run.process.kill()
                run.process.wait()
        time.sleep(0.2)


def read_workdir(workdir: pathlib.Path) -> tuple[dict, list[dict]]:
    info = json.loads((workdir / "config.json").read_text())
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    return info, [json.loads(line) for line in lines]


def assert_same_metrics(got: list[dict], want: list[dict], epochs: list[int]):
    assert [m["epoch"] for m in got] == epochs
    assert [m["epoch"] for m in want[: len(epochs)]] == epochs
    for g, w in zip(got, want):
        for name in COMPARED:
            assert g[name] == pytest.approx(w[name], rel=1e-4, abs=1e-6), name


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("scaling")

    def two_processes(prefix: str, *flags: str) -> dict[str, Run]:
        coordinator = f"--coordinator_address=127.0.0.1:{free_port()}"
        group = {
            f"{prefix}{i}": Run(
                f"{prefix}{i}",
                tmp,
                2,
                *MAIN,
                *TINY_FLAGS,
                *flags,
                coordinator,
                "--num_processes=2",
                f"--process_id={i}",
            )
            for i in range(2)
        }
        for run in group.values():
            run.partners = [p for p in group.values() if p is not run]
        return group

    started = {
        "one": Run("one", tmp, 1, *MAIN, *TINY_FLAGS, "--workdir=one"),
        "four": Run("four", tmp, 4, *MAIN, *TINY_FLAGS, "--epochs=3", "--workdir=four"),
        "probe": Run("probe", tmp, 4, "-c", SHARDING_PROBE),
        **two_processes("process", "--workdir=two"),
        # Two seeds on four devices: a 2 seed x 2 data mesh, in one process
        # and in two.
        "seeds": Run(
            "seeds", tmp, 4, *MAIN, *TINY_FLAGS, "--num_seeds=2", "--workdir=seeds"
        ),
        **two_processes("sweep", "--num_seeds=2", "--workdir=sweep"),
    }
    wait_all(list(started.values()), TIMEOUT_SEC)
    if all(started[f"process{i}"].process.returncode == 0 for i in range(2)):
        # A copy, so that the tests still see the two-epoch run as it was left.
        shutil.copytree(tmp / "two", tmp / "resumed")
        resumed = two_processes("resumed", "--epochs=3", "--workdir=resumed")
        wait_all(list(resumed.values()), TIMEOUT_SEC)
        started.update(resumed)
    return {"tmp": tmp, **started}


def test_each_of_four_devices_trains_on_a_quarter_of_each_batch(runs):
    assert runs["probe"].process.returncode == 0, runs["probe"].report()
    probe = json.loads(runs["probe"].stdout)
    # Batches of 32 over 4 devices: each device gathers its own 8 rows (never
    # the whole batch) and the gradients are all-reduced.
    assert probe == {"gathered_rows": [8], "all_reduce": True, "other_collectives": []}


def test_four_devices_match_one_device(runs):
    for name in ("one", "four"):
        assert runs[name].process.returncode == 0, runs[name].report()
    one_info, one = read_workdir(runs["tmp"] / "one")
    four_info, four = read_workdir(runs["tmp"] / "four")
    assert len(one_info["devices"]) == 1
    assert len(four_info["devices"]) == 4
    assert "4 device(s) [cpu]" in runs["four"].stdout
    assert four_info["num_params"] == one_info["num_params"] > 0
    assert_same_metrics(four[:2], one, [1, 2])


def test_seeds_on_a_seed_by_data_mesh_match_one_device(runs):
    for name in ("one", "seeds", "sweep0", "sweep1"):
        assert runs[name].process.returncode == 0, runs[name].report()
    assert "4 device(s) [cpu] as 2 seed x 2 data" in runs["seeds"].stdout
    assert "as 2 seed x 2 data" in runs["sweep0"].stdout
    assert "epoch" not in runs["sweep1"].stdout  # only process 0 speaks
    _, one = read_workdir(runs["tmp"] / "one")
    _, seed0 = read_workdir(runs["tmp"] / "seeds" / "seed_0")
    assert_same_metrics(seed0, one, [1, 2])
    for k in range(2):
        _, alone = read_workdir(runs["tmp"] / "seeds" / f"seed_{k}")
        _, together = read_workdir(runs["tmp"] / "sweep" / f"seed_{k}")
        assert_same_metrics(together, alone, [1, 2])
    assert (runs["tmp"] / "sweep" / checkpoint.SWEEP_FILE).exists()


def test_two_processes_train_together_like_one(runs):
    for name in ("one", "process0", "process1"):
        assert runs[name].process.returncode == 0, runs[name].report()
    workdir = runs["tmp"] / "two"
    info, two = read_workdir(workdir)
    one_info, one = read_workdir(runs["tmp"] / "one")
    assert info["num_processes"] == 2
    assert len(info["devices"]) == 4
    assert info["num_params"] == one_info["num_params"]
    # Each epoch once in metrics.jsonl, and only process 0 speaks.
    assert_same_metrics(two, one, [1, 2])
    assert "4 device(s) [cpu] in 2 processes" in runs["process0"].stdout
    assert "epoch   2" in runs["process0"].stdout
    assert "epoch" not in runs["process1"].stdout
    assert not list(workdir.glob("*.tmp"))


def test_two_process_checkpoints_resume_like_one_process(runs):
    for name in ("one", "process0", "process1"):
        assert runs[name].process.returncode == 0, runs[name].report()
    info, _ = read_workdir(runs["tmp"] / "two")
    template = train.create_train_state(Config.from_dict(info["config"]))
    restored = {}
    for name in ("one", "two"):
        # The very call a resumed run makes.
        store = checkpoint.RunStore(str(runs["tmp"] / name))
        state, history = store.restore(template)
        store.close()
        assert [m["epoch"] for m in history] == [1, 2]
        assert int(state.step) == history[-1]["step"]
        restored[name] = state.params
    for x, y in zip(jax.tree.leaves(restored["two"]), jax.tree.leaves(restored["one"])):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)


def event_records(directory: pathlib.Path) -> tuple[int, dict]:
    """Event files under ``directory`` and how often each (tag, step) was written."""
    from tensorboardX.proto import event_pb2

    names = sorted(p.name for p in directory.glob("events.out.tfevents.*"))
    written = {}
    for name in names:
        for payload in summaries._records((directory / name).read_bytes(), name):
            event = event_pb2.Event.FromString(payload)
            for value in event.summary.value:
                key = (value.tag, event.step)
                written[key] = written.get(key, 0) + 1
    return len(names), written


def test_only_process_0_writes_event_files_and_a_resume_repeats_no_step(runs):
    for name in ("process0", "process1", "resumed0", "resumed1", "sweep0", "sweep1"):
        assert runs[name].process.returncode == 0, runs[name].report()
    for workdir, files, epochs in (
        ("two", 1, [1, 2]),
        ("resumed", 2, [1, 2, 3]),  # the first run's file, and the resume's
        ("sweep/seed_0", 1, [1, 2]),
        ("sweep/seed_1", 1, [1, 2]),
    ):
        count, written = event_records(runs["tmp"] / workdir / "tensorboard")
        assert count == files, workdir
        assert set(written.values()) == {1}, workdir  # nothing written twice
        _, metrics = read_workdir(runs["tmp"] / workdir)
        assert [m["epoch"] for m in metrics] == epochs
        val_steps = sorted(step for tag, step in written if tag == "val_loss")
        assert val_steps == [m["step"] for m in metrics], workdir
        # The reports from inside the epochs reached process 0's host too:
        # each epoch's first and last step at least.
        loss_steps = {step for tag, step in written if tag == "step_loss"}
        steps_per_epoch = metrics[0]["step"]
        for m in metrics:
            assert {m["step"] - steps_per_epoch + 1, m["step"]} <= loss_steps


def test_indivisible_batch_fails_with_the_device_count(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "jaxadd.main", *TINY_FLAGS, "--batch_size=30"],
        capture_output=True,
        text=True,
        env=fake_devices_env(4),
        timeout=120,
    )
    assert result.returncode == 1
    assert "batch_size 30 does not divide evenly over 4 devices" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_multi_process_flags_without_a_cluster_fail_clearly():
    # No coordinator and nothing to detect one from: one line, no hang.
    result = subprocess.run(
        [sys.executable, "-m", "jaxadd.main", *TINY_FLAGS, "--distributed"],
        capture_output=True,
        text=True,
        env=fake_devices_env(1),
        timeout=120,
    )
    assert result.returncode == 1
    assert "cannot start the multi-process run" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_colab_notebook_runs_top_to_bottom_on_cpu(tmp_path):
    notebook = json.loads(NOTEBOOK.read_text())
    assert notebook["nbformat"] == 4
    cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    source = "\n".join("".join(cell["source"]) for cell in cells)
    # The notebook holds the real command; the test only shrinks its size.
    for text in ("--digits=5", "--reverse", "pip", "git+{JAXADD_REPO}"):
        assert text in source
    # matplotlib is an optional extra: without it only the plot goes untested.
    plotting = importlib.util.find_spec("matplotlib") is not None
    if not plotting:
        cells = [c for c in cells if "plot" not in c["metadata"].get("tags", [])]
    script = tmp_path / "colab_tpu.py"
    script.write_text("\n\n".join("".join(cell["source"]) for cell in cells))
    workdir = tmp_path / "run"
    env = fake_devices_env(1)
    env.update(
        JAXADD_NOTEBOOK_TINY="1", JAXADD_NOTEBOOK_WORKDIR=str(workdir), MPLBACKEND="Agg"
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=TIMEOUT_SEC,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "1 device(s), backend cpu" in result.stdout
    assert "epoch   2" in result.stdout
    _, metrics = read_workdir(workdir)
    assert [m["epoch"] for m in metrics] == [1, 2]
    if plotting:
        assert (workdir / "curve.png").stat().st_size > 1000


def test_two_processes_resume_their_run(runs):
    for name in ("four", "resumed0", "resumed1"):
        assert name in runs, "the first two-process run failed"
        assert runs[name].process.returncode == 0, runs[name].report()
    _, resumed = read_workdir(runs["tmp"] / "resumed")
    _, four = read_workdir(runs["tmp"] / "four")
    assert "Resumed from" in runs["resumed0"].stdout
    assert "epoch   1" not in runs["resumed0"].stdout
    # The resumed third epoch is the one an uninterrupted run trains.
    assert_same_metrics(resumed, four, [1, 2, 3])
