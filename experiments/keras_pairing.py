"""The Keras pairing: Keras's epochs alternated with jaxadd's, in one run.

``keras_comparison`` is what ``experiments/benchmark.py --keras_python=...``
adds to its report. Each contestant other than this process trains in a
process of its own (an ``EpochServer``): ``keras_baseline.py --serve`` for
Keras on one backend, and ``benchmark.py --serve`` (``serve_epochs``) for
jaxadd on a CPU split into several devices, which this process, its JAX
backend already started, cannot be. The protocol: the server compiles, prints
one JSON line with ``"ready": true`` and its examples per epoch, then trains
and times one epoch for each line it reads on stdin, printing
``{"seconds": ...}``, until stdin closes. ``paired_comparison`` times one
epoch of every contestant per round, so that each ratio compares timings
taken seconds apart on a shared machine rather than minutes apart.
"""

from __future__ import annotations

import json
import os
import pathlib
import queue
import statistics
import subprocess
import sys
import tempfile
import threading

import jax
import jax.numpy as jnp

from experiments import common
from jaxadd import data
from jaxadd.config import Config

ROOT = pathlib.Path(__file__).resolve().parents[1]


class EpochServerError(RuntimeError):
    """An epoch-serving process that died, hung or answered nonsense."""


class EpochServer:
    """A process that trains, and times, one epoch each time it is asked.

    It is ``keras_baseline.py --serve`` (Keras on one backend) or
    ``benchmark.py --serve`` (jaxadd in a process of its own, for a device
    count that this process, its JAX backend already started, cannot have).
    Starting it waits for it to compile. Then ``about`` holds its ready line
    (at least the examples per epoch); or, when it could not start (no keras,
    no tensorflow), ``error`` holds its last stderr line and the instance is
    unusable.

    Args:
      name: what it runs, for error messages ("Keras on tensorflow").
      command: its command line, ``--serve`` included.
      env: its environment (``KERAS_BACKEND`` picks Keras's backend,
        ``JAX_NUM_CPU_DEVICES`` jaxadd's CPU devices).
      timeout: seconds to wait for the ready line and for each epoch.
    """

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], timeout: float
    ):
        self.name = name
        self.timeout = timeout
        self.error: str | None = None
        self.about: dict = {}
        self._stderr = tempfile.TemporaryFile("w+")
        self._lines: queue.Queue = queue.Queue()
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                text=True,
                env=env,
            )
        except OSError as error:  # say, no such python
            self._process = None
            self.error = str(error)
            self._stderr.close()
            return
        threading.Thread(target=self._read, daemon=True).start()
        line = self._next_line()
        if line is None or not line.get("ready"):
            self._stderr.seek(0)
            last = self._stderr.read().strip().splitlines() or ["no ready line"]
            self.error = last[-1]
            self.close()
        else:
            self.about = line

    def _read(self) -> None:
        # None tells the waiting side that no more lines will come.
        try:
            for line in self._process.stdout:
                if line.startswith("{"):
                    self._lines.put(json.loads(line))
        except ValueError:
            pass
        finally:
            self._lines.put(None)

    def _next_line(self) -> dict | None:
        try:
            return self._lines.get(timeout=self.timeout)
        except queue.Empty:
            return None

    def epoch_seconds(self) -> float:
        """Has the process train one epoch; returns the seconds it measured."""
        try:
            self._process.stdin.write("\n")
            self._process.stdin.flush()
            return float(self._next_line()["seconds"])
        except (OSError, TypeError, KeyError) as error:
            raise EpochServerError(
                f"the {self.name} process stopped answering ({error!r})"
            ) from error

    def close(self) -> None:
        """Closes its stdin, which ends it; kills it if it does not end."""
        if self._process is None:
            return
        try:
            self._process.stdin.close()
        except OSError:
            pass
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._stderr.close()


def keras_epochs(
    python: str, backend: str, digits: int, batch_size: int, examples: int
) -> EpochServer:
    """Starts one Keras baseline process and waits for it to compile.

    Never raises for a baseline that cannot start: the returned instance has
    ``error`` set instead.
    """
    command = [
        python,
        str(ROOT / "experiments" / "keras_baseline.py"),
        "--serve",
        f"--digits={digits}",
        f"--batch_size={batch_size}",
        f"--examples={examples}",
    ]
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    return EpochServer(f"Keras on {backend}", command, env, timeout=600)


def jaxadd_epochs(
    cpu_devices: int, digits: int, batch_size: int, examples: int
) -> EpochServer:
    """Starts jaxadd on ``cpu_devices`` CPU devices in a process of its own.

    It trains on the problems ``keras_epochs`` would, and never raises for a
    process that cannot start: the returned instance has ``error`` set instead.
    """
    command = [
        sys.executable,
        str(ROOT / "experiments" / "benchmark.py"),
        "--serve",
        f"--digits={digits}",
        f"--batch_size={batch_size}",
        f"--examples={examples}",
    ]
    env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(cpu_devices))
    return EpochServer(
        f"jaxadd on {cpu_devices} CPU devices", command, env, timeout=600
    )


def serve_epochs(digits: int, batch_size: int, examples: int) -> None:
    """``benchmark.py --serve``: the serving protocol, for jaxadd's default model.

    Trains whole batches of the comparison problems on every device of this
    process (``JAX_NUM_CPU_DEVICES`` sets how many a CPU backend has).
    """
    split = common.keras_comparison_problems(digits, examples, batch_size)
    rows = min(examples, len(split.queries)) // batch_size * batch_size
    config = Config(digits=digits, batch_size=batch_size, hidden_size=128)  # Keras's
    timed_epoch, _ = common.epoch_timer(
        config, jnp.asarray(split.queries[:rows]), jnp.asarray(split.answers[:rows])
    )
    about = {"ready": True, "devices": jax.device_count(), "examples": rows}
    print(json.dumps(about), flush=True)
    for _ in sys.stdin:
        print(json.dumps({"seconds": timed_epoch()}), flush=True)


def paired_comparison(
    config: Config,
    split: data.Split,
    servers: dict[str, EpochServer],
    rounds: int,
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """jaxadd's epochs alternated with every server's, ``rounds`` times.

    Each round times one epoch of every contestant back to back, in an order
    that rotates from round to round, on the same problems (the first rows of
    ``split``); so each ratio compares timings taken seconds apart, not
    minutes. Each server was started and compiled beforehand and waits, idle,
    while the others run. Give ``rounds`` as a multiple of the number of
    contestants so that each takes each place in the order equally often.

    Returns:
      By contestant (``"jaxadd"``, this process, and the names of
      ``servers``): the examples/s of each round, and the examples an epoch.

    Raises:
      EpochServerError: a server stopped answering.
    """
    examples = {name: server.about["examples"] for name, server in servers.items()}
    # Whole batches of the problems Keras trains on (it also trains a last
    # partial batch, and counts it).
    available = min([len(split.queries), *examples.values()])
    rows = available // config.batch_size * config.batch_size
    if rows == 0:
        raise ValueError(f"fewer than {config.batch_size} problems to compare on")
    queries = jnp.asarray(split.queries[:rows])
    answers = jnp.asarray(split.answers[:rows])
    our_epoch_seconds, _ = common.epoch_timer(config, queries, answers)
    contestants = {"jaxadd": our_epoch_seconds}
    contestants.update({name: s.epoch_seconds for name, s in servers.items()})
    examples["jaxadd"] = rows
    seconds: dict[str, list[float]] = {name: [] for name in contestants}
    names = list(contestants)
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name].append(contestants[name]())
    rates = {
        name: [examples[name] / t for t in times] for name, times in seconds.items()
    }
    return rates, examples


def ratio_fields(ours: list[float], theirs: list[float], prefix: str) -> dict:
    """Median, min and max over rounds of ours / theirs, keys ``prefix...``."""
    per_round = [a / b for a, b in zip(ours, theirs)]
    return {
        f"{prefix}examples_per_sec": statistics.median(ours),
        f"{prefix}ratio": statistics.median(per_round),
        f"{prefix}ratio_min": min(per_round),
        f"{prefix}ratio_max": max(per_round),
    }


def keras_comparison(
    keras_python: str, tiny: bool, split_cpu_devices: int
) -> list[dict]:
    """``paired_comparison`` at batch 32 and 512, Keras on JAX and TensorFlow.

    One row per Keras backend and batch size: its examples/s and, measured in
    the same rounds, jaxadd's on this process's devices (keys ``jaxadd_...``
    and ``jaxadd_ratio...``) and, with ``split_cpu_devices`` > 1, on that many
    CPU devices (keys ``split_cpu_...``). A backend that cannot start
    (say, no tensorflow in ``keras_python``), or a batch size whose comparison
    fails, gets a row with the error instead.
    """
    digits = 2 if tiny else 3
    examples = 2_000 if tiny else 20_000
    rows = []
    for batch_size in (32, 512):
        split = common.keras_comparison_problems(digits, examples, batch_size)
        keras = {}
        for backend in ("jax", "tensorflow"):
            server = keras_epochs(keras_python, backend, digits, batch_size, examples)
            if server.error:
                rows.append(
                    {
                        "backend": backend,
                        "batch_size": batch_size,
                        "error": server.error,
                    }
                )
            else:
                keras[backend] = server
        if not keras:
            continue
        servers = dict(keras)
        split_cpu_error = None
        if split_cpu_devices > 1:
            ours = jaxadd_epochs(split_cpu_devices, digits, batch_size, examples)
            if ours.error:
                split_cpu_error = ours.error
            elif ours.about["devices"] != split_cpu_devices:  # say, an older jax
                split_cpu_error = (
                    f"asked for {split_cpu_devices} CPU devices, "
                    f"got {ours.about['devices']}"
                )
                ours.close()
            else:
                servers["split_cpu"] = ours
        try:
            config = Config(digits=digits, batch_size=batch_size, hidden_size=128)
            rounds = (1 if tiny else 2) * (1 + len(servers))
            rates, counts = paired_comparison(config, split, servers, rounds)
            results = []
            for backend, server in keras.items():
                row = {
                    "backend": backend,
                    "keras": server.about["keras"],
                    "batch_size": batch_size,
                    "rounds": rounds,
                    "examples": counts[backend],
                    "jaxadd_examples": counts["jaxadd"],
                    "jaxadd_devices": jax.device_count(),
                    "examples_per_sec": statistics.median(rates[backend]),
                    **ratio_fields(rates["jaxadd"], rates[backend], "jaxadd_"),
                }
                if "split_cpu" in servers:
                    row["split_cpu_devices"] = split_cpu_devices
                    row.update(
                        ratio_fields(rates["split_cpu"], rates[backend], "split_cpu_")
                    )
                elif split_cpu_error:
                    row["split_cpu_error"] = split_cpu_error
                results.append(row)
        except EpochServerError as error:  # still compare at the other batch size
            results = [
                {"backend": backend, "batch_size": batch_size, "error": str(error)}
                for backend in keras
            ]
        finally:
            for server in servers.values():
                server.close()
        for result in results:
            print(json.dumps(result), flush=True)
        rows += results
    return rows
