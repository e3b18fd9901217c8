"""Speed of jaxadd on this machine, every figure measured in one run.

    python experiments/benchmark.py            # writes experiments/results/benchmark.md
    python experiments/benchmark.py --tiny     # seconds-long smoke run (tests use it)

Measures: training throughput at several batch sizes for 3 and 5 digits; model
FLOPs utilization against this machine's float32 matmul peak; compile time of the
training step; problem generation rate; wall time from launch to 99% held-out
exact match for the default run (median of three seeds), without and then with
JAX's persistent compilation cache filled by an earlier run; and, with
``--keras_python``, the same model in Keras 3 on its JAX and TensorFlow backends,
their epochs alternated with jaxadd's. Every timing is a median of repeats;
ratios compare numbers from this same run.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from experiments import common  # noqa: E402
from jaxadd import data, train  # noqa: E402
from jaxadd.config import Config  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
SEED_TRAINING_SIZE = {2: 5_000, 3: 50_000, 4: 400_000, 5: 550_000}


def straightforward_flops_per_example(config: Config) -> int:
    """Matmul FLOPs of one training example in the Keras formulation.

    Every LSTM step multiplies its input (one-hot query symbol, or the repeated
    encoder state) and its hidden state by the four gate kernels; the dense layer
    runs at every answer position. Backward costs twice the forward matmuls.
    Elementwise work is not counted.
    """
    h4 = 4 * config.hidden_size
    v, h = data.VOCAB_SIZE, config.hidden_size
    steps_in, steps_out = data.query_len(config.digits), data.answer_len(config.digits)
    forward = steps_in * 2 * (v * h4 + h * h4)
    forward += config.num_layers * steps_out * 2 * (h * h4 + h * h4)
    forward += steps_out * 2 * h * v
    return 3 * forward


def matmul_peak_flops(size: int, repeats: int) -> float:
    """Float32 FLOP/s of a square jitted matmul on the default device."""
    x = jnp.ones((size, size), jnp.float32)
    matmul = jax.jit(lambda a, b: a @ b)
    matmul(x, x).block_until_ready()
    seconds = common.median_time(
        lambda: matmul(x, x).block_until_ready(), repeats=repeats
    )
    return 2 * size**3 / seconds


def epoch_timer(
    config: Config, queries: jax.Array, answers: jax.Array
) -> tuple[Callable[[], float], float]:
    """Compiles the whole-epoch training function for these problems.

    Returns a function that trains one more epoch from ``config``'s initial
    state (epoch keys 2, 3, ... of seed 0) and returns its wall seconds, and
    the seconds compilation took. Epoch 1 runs here, untimed, because the first
    run of a compiled program also allocates its buffers.
    """
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


def throughput(
    config: Config, split: data.Split, examples: int, repeats: int
) -> dict[str, float]:
    """Examples/s of the compiled whole-epoch function, and its compile time."""
    steps = max(5, examples // config.batch_size)
    rows = steps * config.batch_size
    queries = jnp.asarray(split.queries[:rows])
    answers = jnp.asarray(split.answers[:rows])
    timed_epoch, compile_sec = epoch_timer(config, queries, answers)
    times = [timed_epoch() for _ in range(repeats)]

    # Shapes are all the cost analysis needs of the state.
    state = jax.eval_shape(lambda: train.create_train_state(config))
    step_cost = (
        jax.jit(train.train_step)
        .lower(state, queries[: config.batch_size], answers[: config.batch_size])
        .compile()
        .cost_analysis()
    )
    if isinstance(step_cost, list):  # older jax returns one dict per device
        step_cost = step_cost[0]
    return {
        "examples_per_sec": rows / statistics.median(times),
        "compile_sec": compile_sec,
        "xla_flops_per_example": float(step_cost.get("flops", float("nan")))
        / config.batch_size,
    }


def compilation_cache_env(cache_dir: str | None) -> dict[str, str]:
    """A run's environment: JAX's persistent compilation cache in ``cache_dir``.

    With ``None``, a cache directory named by the caller's environment is
    dropped, so that the run compiles every program itself.
    """
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    if cache_dir is not None:
        env["JAX_COMPILATION_CACHE_DIR"] = cache_dir
        # Cache every program, not only those that took over a second to build.
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    return env


def wall_to_target(
    flags: list[str], seeds: list[int], timeout: float, cache_dir: str | None = None
) -> dict:
    """Launch-to-finish seconds of ``python -m jaxadd.main`` with each seed.

    Each output line is timed as it arrives, which splits the wall time into
    start-up (launch to the first line, printed once data, initialization and
    compilation are done), the epochs, and the exit after the last line.
    ``cache_dir`` runs them with JAX's persistent compilation cache there.
    """
    runs = []
    for seed in seeds:
        command = [sys.executable, "-m", "jaxadd.main", *flags, f"--seed={seed}"]
        start = time.perf_counter()
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env=compilation_cache_env(cache_dir),
        )
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        timed_lines = [(time.perf_counter() - start, line) for line in process.stdout]
        process.wait()
        killer.cancel()
        wall = time.perf_counter() - start
        output = "".join(line for _, line in timed_lines)
        epochs = [line.strip() for _, line in timed_lines if line.startswith("epoch")]
        runs.append(
            {
                "seed": seed,
                "wall_sec": wall,
                "first_line_sec": timed_lines[0][0] if timed_lines else wall,
                "exit_sec": wall - timed_lines[-1][0] if timed_lines else 0.0,
                "first_line": timed_lines[0][1].strip() if timed_lines else "",
                "reached": "Reached val_exact_accuracy" in output,
                "epochs": len(epochs),
                "last_epoch_line": epochs[-1] if epochs else output[-300:],
            }
        )
    return {
        "flags": flags,
        "runs": runs,
        "median_wall_sec": statistics.median(r["wall_sec"] for r in runs),
        "all_reached": all(r["reached"] for r in runs),
    }


class EpochServerError(RuntimeError):
    """An epoch-serving process that died, hung or answered nonsense."""


class EpochServer:
    """A process that trains, and times, one epoch each time it is asked.

    It is ``keras_baseline.py --serve`` (Keras on one backend) or this script's
    ``--serve`` (jaxadd in a process of its own, for a device count that this
    process, its JAX backend already started, cannot have). Starting it waits
    for it to compile. Then ``about`` holds its ready line (at least the
    examples per epoch); or, when it could not start (no keras, no
    tensorflow), ``error`` holds its last stderr line and the instance is
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
    """``--serve``: like ``keras_baseline.py --serve``, for jaxadd's default model.

    Trains whole batches of the comparison problems on every device of this
    process (``JAX_NUM_CPU_DEVICES`` sets how many a CPU backend has).
    """
    split = common.keras_comparison_problems(digits, examples, batch_size)
    rows = min(examples, len(split.queries)) // batch_size * batch_size
    config = Config(digits=digits, batch_size=batch_size)
    timed_epoch, _ = epoch_timer(
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
    our_epoch_seconds, _ = epoch_timer(config, queries, answers)
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
            config = Config(digits=digits, batch_size=batch_size)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--keras_python", help="a python that has keras installed")
    parser.add_argument("--out", default=str(common.RESULTS / "benchmark.md"))
    parser.add_argument(
        "--cpu_devices",
        type=int,
        default=2,
        help="on a CPU backend, also measure jaxadd split into this many CPU "
        "devices (jaxadd.main --cpu_devices); 1 skips it",
    )
    serve = parser.add_argument_group("--serve (used by the benchmark itself)")
    serve.add_argument(
        "--serve", action="store_true", help="time one epoch per line on stdin"
    )
    serve.add_argument("--digits", type=int, default=3)
    serve.add_argument("--batch_size", type=int, default=32)
    serve.add_argument("--examples", type=int, default=20_000)
    args = parser.parse_args()
    if args.cpu_devices < 1:
        parser.error(f"--cpu_devices must be >= 1, got {args.cpu_devices}")
    if args.serve:
        serve_epochs(args.digits, args.batch_size, args.examples)
        return

    tiny = args.tiny
    digits_list = [2] if tiny else [3, 5]
    batch_sizes = [32, 128] if tiny else [32, 128, 512, 2048]
    examples = 2_000 if tiny else 40_000
    repeats = 1 if tiny else 3
    info = common.machine_info()
    report: dict = {"machine": info, "tiny": tiny}

    report["matmul_peak_flops"] = matmul_peak_flops(
        256 if tiny else 2048, 2 if tiny else 5
    )

    size = 2_000 if tiny else 550_000
    gen_sec = common.median_time(
        lambda: data.generate_problems(size, 5, seed=0), repeats=repeats
    )
    report["generation"] = {
        "digits": 5,
        "problems": size,
        "seconds": gen_sec,
        "problems_per_sec": size / gen_sec,
    }

    cells = []
    for digits in digits_list:
        training_size = 3_000 if tiny else SEED_TRAINING_SIZE[digits]
        split, _ = data.make_splits(
            num_problems=training_size,
            digits=digits,
            reverse=True,
            val_fraction=0.0,
            seed=0,
        )
        for batch_size in batch_sizes:
            config = Config(digits=digits, batch_size=batch_size)
            cell = throughput(config, split, examples, repeats)
            cell.update(
                digits=digits,
                batch_size=batch_size,
                straightforward_flops_per_example=straightforward_flops_per_example(
                    config
                ),
            )
            cell["mfu"] = (
                cell["straightforward_flops_per_example"]
                * cell["examples_per_sec"]
                / report["matmul_peak_flops"]
            )
            cells.append(cell)
            print(json.dumps(cell), flush=True)
    report["throughput"] = cells

    if tiny:
        target_flags = [
            "--digits=1",
            "--training_size=55",
            "--val_fraction=0.2",
            "--epochs=2",
            "--batch_size=8",
            "--hidden_size=8",
            "--num_samples=0",
            "--target_accuracy=0.99",
        ]
        seeds = [0]
    else:
        target_flags = ["--target_accuracy=0.99", "--num_samples=0"]
        seeds = [0, 1, 2]
    report["wall_to_99"] = wall_to_target(target_flags, seeds, timeout=900)
    print(json.dumps(report["wall_to_99"]), flush=True)
    # The same runs again, their programs compiled by an earlier run of the same
    # flags (the seed is an argument of the programs, not a constant in them).
    with tempfile.TemporaryDirectory() as cache_dir:
        wall_to_target(target_flags, seeds[:1], timeout=900, cache_dir=cache_dir)
        report["wall_to_99_cached"] = wall_to_target(
            target_flags, seeds, timeout=900, cache_dir=cache_dir
        )
    print(json.dumps(report["wall_to_99_cached"]), flush=True)
    # Splitting is for a CPU backend only: elsewhere the devices are real.
    split_cpu_devices = args.cpu_devices if info["backend"] == "cpu" else 1
    if split_cpu_devices > 1:
        report["wall_to_99_split_cpu"] = wall_to_target(
            [*target_flags, f"--cpu_devices={split_cpu_devices}"], seeds, timeout=900
        )
        print(json.dumps(report["wall_to_99_split_cpu"]), flush=True)

    report["keras"] = []
    if args.keras_python:
        report["keras"] = keras_comparison(args.keras_python, tiny, split_cpu_devices)

    out = pathlib.Path(args.out)
    common.write_json(out.with_suffix(".json"), report)
    out.write_text(render(report))
    print(f"wrote {out} and {out.with_suffix('.json')}")


def render(report: dict) -> str:
    info = report["machine"]
    lines = [
        "# jaxadd benchmark",
        "",
        f"Machine: {common.machine_line(info)}. Made by `python experiments/"
        f"benchmark.py{' --tiny' if report['tiny'] else ''}`; every number below "
        "comes from that one run (medians of repeats).",
        "",
        f"- float32 matmul peak (square jitted matmul): "
        f"{report['matmul_peak_flops'] / 1e9:.1f} GFLOP/s",
        f"- problem generation: {report['generation']['problems']:,} unique "
        f"{report['generation']['digits']}-digit problems in "
        f"{report['generation']['seconds']:.3f} s "
        f"({report['generation']['problems_per_sec']:,.0f} problems/s)",
        "",
        "## Training throughput and model FLOPs utilization",
        "",
        "MFU = FLOPs per example of the straightforward (Keras) formulation, counted "
        "analytically (all matmuls, forward and backward) x examples/s / matmul peak. "
        "XLA's cost analysis of the compiled step is shown beside it: it counts what "
        "jaxadd actually executes (the repeated decoder input projected once, "
        "elementwise work included).",
        "",
    ]
    rows = [
        [
            c["digits"],
            c["batch_size"],
            f"{c['examples_per_sec']:,.0f}",
            f"{c['straightforward_flops_per_example'] / 1e6:.2f}",
            f"{c['xla_flops_per_example'] / 1e6:.2f}",
            f"{c['mfu']:.1%}",
            f"{c['compile_sec']:.2f}",
        ]
        for c in report["throughput"]
    ]
    lines.append(
        common.markdown_table(
            [
                "digits",
                "batch",
                "examples/s",
                "MFLOP/example (analytic)",
                "MFLOP/example (XLA)",
                "MFU",
                "compile s (epoch fn)",
            ],
            rows,
        )
    )
    wall = report["wall_to_99"]
    lines += [
        "## Wall time to 99% held-out exact match",
        "",
        f"`python -m jaxadd.main {' '.join(wall['flags'])} --seed=S`, launch to exit "
        "(interpreter start, data generation and compilation included): median "
        f"**{wall['median_wall_sec']:.1f} s** over seeds "
        f"{', '.join(str(r['seed']) for r in wall['runs'])}; all reached 99%: "
        f"{wall['all_reached']}.",
        "",
    ]
    lines += _wall_run_lines(wall["runs"])
    cached = report["wall_to_99_cached"]
    lines += [
        "",
        "With JAX's persistent compilation cache filled by one earlier run of the "
        "same flags (seed "
        f"{cached['runs'][0]['seed']}, not counted), that is with "
        "`JAX_COMPILATION_CACHE_DIR=DIR JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0`"
        f": median **{cached['median_wall_sec']:.1f} s**; all reached 99%: "
        f"{cached['all_reached']}. A fresh machine has no such cache: the median "
        "above, without one, is the one that counts.",
        "",
    ]
    lines += _wall_run_lines(cached["runs"])
    lines.append("")
    split_wall = report.get("wall_to_99_split_cpu")
    if split_wall:
        lines += [
            f"The CPU split into devices, `{split_wall['flags'][-1]}` (no cache): "
            f"median **{split_wall['median_wall_sec']:.1f} s**; all reached 99%: "
            f"{split_wall['all_reached']}.",
            "",
        ]
        lines += _wall_run_lines(split_wall["runs"])
        lines.append("")
    if report["keras"]:
        timed = [k for k in report["keras"] if "error" not in k]
        problems = f"{timed[0]['examples']:,} " if timed else ""
        lines += [
            "## Keras 3, same model and data, same run",
            "",
            "Each Keras backend runs in its own process, compiled before the clock "
            "starts. Then, round after round, one epoch of jaxadd and one of each "
            "Keras backend are timed one after another (the order rotates), so "
            "that all of them run on the same stretch of the machine; the ratio "
            "is the median of the rounds' ratios. An epoch is the same "
            f"{problems}problems for all (jaxadd drops a last partial batch), one-hot "
            "encoded as in the Keras example; examples/s counts the whole epoch.",
            "",
        ]
        split = next((k for k in timed if "split_cpu_devices" in k), None)
        header = [
            "Keras backend",
            "batch",
            "Keras examples/s",
            "jaxadd examples/s, same rounds",
            "jaxadd / Keras",
        ]
        if split:
            lines += [
                f"jaxadd also runs split into {split['split_cpu_devices']} CPU "
                f"devices (`--cpu_devices={split['split_cpu_devices']}`), in a "
                "process of its own that takes its turn in the same rounds.",
                "",
            ]
            header += [
                f"jaxadd on {split['split_cpu_devices']} CPU devices, examples/s",
                "it / Keras",
            ]
        rows = []
        for k in report["keras"]:
            if "error" in k:
                rows.append(
                    [k["backend"], k["batch_size"], "-", "-", f"not run: {k['error']}"]
                    + ["-"] * (len(header) - 5)
                )
                continue
            row = [
                f"{k['backend']} (keras {k['keras']})",
                k["batch_size"],
                f"{k['examples_per_sec']:,.0f}",
                *_ratio_cells(k, "jaxadd_"),
            ]
            if split and "split_cpu_examples_per_sec" in k:
                row += _ratio_cells(k, "split_cpu_")
            elif split:
                row += ["-", f"not run: {k.get('split_cpu_error', '')}"]
            rows.append(row)
        lines.append(common.markdown_table(header, rows))
    return "\n".join(lines) + "\n"


def _ratio_cells(row: dict, prefix: str) -> list[str]:
    return [
        f"{row[prefix + 'examples_per_sec']:,.0f}",
        f"**{row[prefix + 'ratio']:.2f}x** ({row[prefix + 'ratio_min']:.2f}-"
        f"{row[prefix + 'ratio_max']:.2f}x over {row['rounds']} rounds)",
    ]


def _wall_run_lines(runs: list[dict]) -> list[str]:
    return [
        f"- seed {r['seed']}: {r['wall_sec']:.1f} s, {r['epochs']} epochs; "
        f"{r['first_line_sec']:.1f} s to the first line "
        f"(`...{r['first_line'].rpartition(';')[2]}`), "
        f"{r['exit_sec']:.2f} s from the last line to exit; "
        f"last epoch: `{r['last_epoch_line']}`"
        for r in runs
    ]


if __name__ == "__main__":
    main()
