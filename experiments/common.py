"""Helpers shared by the experiment scripts: flags, the machine, medians, results."""

from __future__ import annotations

import argparse
import dataclasses
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
import typing
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

import numpy as np

from jaxadd import configs, data
from jaxadd.config import Config

if TYPE_CHECKING:
    import jax

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"


def add_config_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    only: Collection[str] | None = None,
    lists: Collection[str] = (),
) -> None:
    """Adds ``--config`` and ``Config``'s flags, spelled as ``jaxadd.main``'s.

    Each option has the field's name, type, help and choices; a boolean is a
    ``--X``/``--noX`` pair, as absl spells it. Every default is ``None``, so
    that ``config_from_args`` can tell a flag given from one left out (the
    script's own defaults are the ``base`` it passes there).

    Args:
      parser: the parser, or a group of it, to add the options to.
      only: the fields to add, by name; default all of them.
      lists: of those, the sweep axes: each takes a comma-separated list of
        values (``--digits=5,7,10``; one value is a list of one) and parses to
        a ``list``, which ``config_from_args`` leaves to the script.
    """
    names = [f.name for f in Config.fields()]
    unknown = set(only or ()) - set(names) | set(lists) - set(only or names)
    if unknown:  # a typo in a script, not a user's mistake
        raise ValueError(f"not Config fields offered here: {sorted(unknown)}")
    parser.add_argument(
        "--config",
        choices=configs.NAMES,
        help="Named recipe (jaxadd/configs/NAME.py) to start from instead of "
        "this script's own settings; flags given as well override its fields.",
    )
    types = typing.get_type_hints(Config)
    for field in Config.fields():
        if only is not None and field.name not in only:
            continue
        name, help_text = field.name, field.metadata["help"]
        kind = float if types[name] == float | None else types[name]
        if kind is bool:
            parser.add_argument(
                f"--{name}", dest=name, action="store_const", const=True, help=help_text
            )
            parser.add_argument(
                f"--no{name}",
                dest=name,
                action="store_const",
                const=False,
                help=f"The opposite of --{name}.",
            )
        elif name in lists:
            parser.add_argument(
                f"--{name}",
                type=_comma_list(kind, field.metadata.get("choices")),
                help=f"Comma-separated, one run each: {help_text}",
            )
        else:
            parser.add_argument(
                f"--{name}",
                type=kind,
                choices=field.metadata.get("choices"),
                help=help_text,
            )


def _comma_list(kind: type, choices: tuple | None) -> Callable[[str], list]:
    """The ``type`` of a list flag: ``"5,7,10"`` -> ``[5, 7, 10]``."""

    def parse(text: str) -> list:
        values = [kind(item) for item in text.split(",")]
        bad = [v for v in values if choices is not None and v not in choices]
        if bad:
            raise argparse.ArgumentTypeError(
                f"{bad[0]!r} is not one of {', '.join(map(str, choices))}"
            )
        return values

    parse.__name__ = f"comma-separated {kind.__name__}"  # argparse's error names it
    return parse


def config_from_args(args: argparse.Namespace, base: Config | None = None) -> Config:
    """The settings ``add_config_flags``'s options chose.

    Args:
      args: the parsed arguments.
      base: the script's own settings, used where ``--config`` is not given
        (default: ``Config()``'s).

    Returns:
      The ``--config`` recipe, else ``base``, with every field whose flag was
      given replaced; list flags (sweep axes) are left to the script.
    """
    if getattr(args, "config", None) is not None:
        start = configs.get(args.config)
    else:
        start = Config() if base is None else base
    given = {}
    for field in Config.fields():
        value = getattr(args, field.name, None)
        if value is not None and not isinstance(value, list):
            given[field.name] = value
    return dataclasses.replace(start, **given)


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


LONGEST_CHAIN_SIZE = 1000


def full_length_scores(config: Config, params) -> dict:
    """Uniform-10k, its edge cases and the longest chains, none trained on.

    The longest chains are ``LONGEST_CHAIN_SIZE`` problems whose carry runs
    through every column (``99+1`` at 2 digits), suite seed 0.
    """
    from jaxadd import evaluate

    train_a, train_b = evaluate.training_problems(config)
    uniform, edge_bucket = evaluate.uniform_10k_suite(config.digits, train_a, train_b)
    chain_bucket = evaluate.carry_chain_bucket(
        config.digits, config.digits, LONGEST_CHAIN_SIZE, 0, train_a, train_b
    )
    report = evaluate.score_buckets(config, params, [edge_bucket, chain_bucket])
    exact, guesses = evaluate.predict_answers(config, params, uniform.a, uniform.b)
    edge = report["edge_cases"]
    return {
        "uniform_10k": {
            "n": len(uniform),
            "correct": int(exact.sum()),
            "accuracy": float(exact.mean()) if len(uniform) else None,
            **wrong_digits(uniform.a + uniform.b, guesses, exact),
        },
        "longest_chain": {
            k: report["carry_chain"][0][k] for k in ("n", "correct", "accuracy")
        },
        "edge_cases": {
            "n": edge["n"],
            "correct": edge["correct"],
            "wrong": [
                f"{c['problem']}={c['predicted']}"
                for c in edge["cases"]
                if not c["correct"]
            ],
        },
    }


def wrong_digits(sums: np.ndarray, guesses: list[str], exact: np.ndarray) -> dict:
    """Where the wrong answers go wrong, digit by digit.

    Both answers are aligned at the units digit, the shorter padded with zeros:
    ``7386079201`` answered as ``7386079211`` is one wrong digit, at position 1
    (the tens; units = 0). An answer that is not a number counts as wrong in
    every position.

    Returns:
      ``wrong_at_position``: per position, from the units up, how many answers
      have that digit wrong; ``digits_wrong``: ``{k: how many answers have k
      wrong digits}``.
    """
    at_position: list[int] = []
    per_answer: dict[int, int] = {}
    for total, guess in zip(sums[~exact].tolist(), np.asarray(guesses)[~exact]):
        truth, guess = str(total), guess.strip()
        width = max(len(truth), len(guess))
        if not guess.isdigit():
            guess = "?" * width
        pairs = zip(truth.zfill(width)[::-1], guess.zfill(width)[::-1])
        wrong = [k for k, (t, g) in enumerate(pairs) if t != g]
        at_position += [0] * (width - len(at_position))
        for k in wrong:
            at_position[k] += 1
        per_answer[len(wrong)] = per_answer.get(len(wrong), 0) + 1
    return {
        "wrong_at_position": at_position,
        "digits_wrong": {str(k): per_answer[k] for k in sorted(per_answer)},
    }


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
