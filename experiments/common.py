"""Helpers shared by the experiment scripts: the machine, medians, result files."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from jaxadd import data

if TYPE_CHECKING:
    import jax

    from jaxadd.config import Config

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """What the numbers were measured on."""
    import jax

    devices = jax.devices()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "backend": jax.default_backend(),
        "devices": f"{len(devices)} x {devices[0].device_kind}",
        "jax": jax.__version__,
        "python": platform.python_version(),
    }


def machine_line(info: dict) -> str:
    return (
        f"{info['cpu']}, {info['cores']} cores, backend {info['backend']} "
        f"({info['devices']}), jax {info['jax']}"
    )


def git_commit(root: pathlib.Path = ROOT) -> str:
    """``git rev-parse HEAD`` of ``root``, ``-dirty`` appended if it has changes.

    Changes to ``experiments/results`` and untracked files (new results, runs)
    do not count: they are what the scripts write, not code that ran, and a
    session of several experiments would otherwise mark all but its first.
    ``"unknown"`` where ``root`` is no git checkout or git cannot say.
    """
    # Checked first: a copy of the scripts inside some other repository would
    # otherwise report that repository's commit.
    if not (root / ".git").exists():
        return "unknown"
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        # No optional locks: a status that refreshes the index could collide
        # with git commands someone runs in the same checkout meanwhile.
        changes = subprocess.run(
            [
                "git",
                "--no-optional-locks",
                "-C",
                str(root),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":(exclude)experiments/results",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    if not head:
        return "unknown"
    return f"{head}-dirty" if changes else head


def memory_gib() -> float | None:
    """Physical memory in GiB, or ``None`` where neither /proc nor sysconf says."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20  # the line is in kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (AttributeError, OSError, ValueError):
        return None


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_description() -> str:
    """One line: CPU, cores, memory, JAX backend and devices, jax and flax."""
    memory = memory_gib()
    parts = [
        cpu_model(),
        f"{os.cpu_count()} cores",
        "memory unknown" if memory is None else f"{memory:.1f} GiB memory",
    ]
    try:
        import jax

        devices = jax.devices()
        parts.append(
            f"JAX backend {jax.default_backend()} "
            f"({len(devices)} x {devices[0].device_kind})"
        )
    # Whatever stops jax (none installed, no device) is a fact about the
    # machine, worth its line, not a reason to lose the results file.
    except Exception as error:
        parts.append(f"no JAX backend ({type(error).__name__})")
    parts += [f"jax {_version('jax')}", f"flax {_version('flax')}"]
    return ", ".join(parts)


def provenance(argv: list[str] | None = None) -> dict[str, str]:
    """Where a results file came from, for its ``provenance`` key.

    Args:
      argv: the script's command line, its path first; default ``sys.argv``.
        A script whose ``main`` takes an argument list passes it here, so that
        a call from Python records the equivalent command.

    Returns:
      ``commit`` (``git_commit``), ``machine`` (``machine_description``),
      ``command`` (the python executable and ``argv``, shell-quoted) and
      ``date`` (ISO 8601, local time with its UTC offset, to the second).
    """
    return {
        "commit": git_commit(),
        "machine": machine_description(),
        "command": shlex.join([sys.executable, *(sys.argv if argv is None else argv)]),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def provenance_line(record: dict[str, str]) -> str:
    """``provenance``'s record as one Markdown line, for a report's header."""
    return (
        f"Provenance: commit `{record['commit']}`, {record['date']}, "
        f"`{record['command']}`; {record['machine']}."
    )


def median_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def epoch_timer(
    config: Config, queries: jax.Array, answers: jax.Array
) -> tuple[Callable[[], float], float]:
    """Compiles the whole-epoch training function for these problems.

    Shared by the benchmark's throughput and the Keras pairing, so that both
    time the very same compiled epoch.

    Returns a function that trains one more epoch from ``config``'s initial
    state (epoch keys 2, 3, ... of seed 0) and returns its wall seconds, and
    the seconds compilation took. Epoch 1 runs here, untimed, because the first
    run of a compiled program also allocates its buffers.
    """
    # Here, not at the top: scripts import this module without starting jax
    # (scaling_check.py's parent must not, keras_baseline.py may have none).
    from jaxadd import train

    state = train.create_train_state(config)
    epoch_fn = train.make_train_epoch(train.make_mesh(), config.batch_size)
    start = time.perf_counter()
    compiled = epoch_fn.lower(state, queries, answers, train.epoch_key(0, 1)).compile()
    compile_sec = time.perf_counter() - start
    epoch = 0

    def timed_epoch() -> float:
        nonlocal state, epoch
        epoch += 1
        start = time.perf_counter()
        state, loss = compiled(state, queries, answers, train.epoch_key(0, epoch))
        float(loss)
        return time.perf_counter() - start

    timed_epoch()
    return timed_epoch, compile_sec


def keras_comparison_problems(
    digits: int, examples: int, batch_size: int
) -> data.Split:
    """The problems both sides of the Keras comparison train on.

    ``keras_baseline.py`` and the benchmark's jaxadd both call this and train
    on its first ``examples`` problems (whole batches of them, for jaxadd).
    """
    size = max(examples + 1, 2 * batch_size)
    split, _ = data.make_splits(
        num_problems=size, digits=digits, reverse=True, val_fraction=0.0, seed=0
    )
    return split


def write_json(path: pathlib.Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")


def percent(fraction: float | None) -> str:
    """``0.9932`` -> ``"99.32"``; ``None`` (no problem to score) -> ``"-"``."""
    return "-" if fraction is None else f"{100 * fraction:.2f}"


def reversal_name(reverse: bool, reverse_answer: bool) -> str:
    """Which sequences a run reverses, in the words the charts and tables use."""
    return {
        (True, False): "input reversed",
        (False, True): "answer reversed",
        (True, True): "both reversed",
        (False, False): "no reversal",
    }[(bool(reverse), bool(reverse_answer))]


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
