"""Helpers shared by the experiment scripts: the machine, medians, result files."""

from __future__ import annotations

import json
import os
import pathlib
import platform
import statistics
import time
from collections.abc import Callable

from jaxadd import data

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


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


def median_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
