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


class KerasProcessError(RuntimeError):
    """A Keras baseline process that died, hung or answered nonsense."""


class KerasEpochs:
    """A ``keras_baseline.py --serve`` process: times one Keras epoch per call.

    Starting it waits for Keras to compile. Then ``about`` holds its ready line
    (backend, keras version, batch size, examples per epoch); or, when it could
    not start (no keras, no tensorflow), ``error`` holds its last stderr line
    and the instance is unusable.

    Args:
      command: the baseline's command line, ``--serve`` included.
      env: its environment (``KERAS_BACKEND`` picks the backend).
      timeout: seconds to wait for the ready line and for each epoch.
    """

    def __init__(self, command: list[str], env: dict[str, str], timeout: float):
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
            raise KerasProcessError(
                f"the Keras process stopped answering ({error!r})"
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
) -> KerasEpochs:
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
    return KerasEpochs(command, env, timeout=600)


def paired_comparison(
    config: Config,
    split: data.Split,
    keras: dict[str, KerasEpochs],
    rounds: int,
) -> list[dict]:
    """jaxadd's epochs alternated with each Keras backend's, ``rounds`` times.

    Each round times one epoch of every contestant back to back, in an order
    that rotates from round to round, on the same problems (the first rows of
    ``split``); so each ratio compares timings taken seconds apart, not
    minutes. Each Keras process was started and compiled beforehand and waits,
    idle, while the others run. Give ``rounds`` as a multiple of the number of
    contestants so that each takes each place in the order equally often.

    Raises:
      KerasProcessError: a Keras process stopped answering.
    """
    examples = {name: k.about["examples"] for name, k in keras.items()}
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
    contestants.update({name: k.epoch_seconds for name, k in keras.items()})
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
    results = []
    for name, k in keras.items():
        per_round = [
            ours / theirs for ours, theirs in zip(rates["jaxadd"], rates[name])
        ]
        results.append(
            {
                "backend": name,
                "keras": k.about["keras"],
                "batch_size": config.batch_size,
                "rounds": rounds,
                "examples": examples[name],
                "jaxadd_examples": rows,
                "examples_per_sec": statistics.median(rates[name]),
                "jaxadd_examples_per_sec": statistics.median(rates["jaxadd"]),
                "ratio": statistics.median(per_round),
                "ratio_min": min(per_round),
                "ratio_max": max(per_round),
            }
        )
    return results


def keras_comparison(keras_python: str, tiny: bool) -> list[dict]:
    """``paired_comparison`` at batch 32 and 512, Keras on JAX and TensorFlow.

    A backend that cannot start (say, no tensorflow in ``keras_python``), or
    a batch size whose comparison fails, gets rows with the error instead.
    """
    digits = 2 if tiny else 3
    examples = 2_000 if tiny else 20_000
    # The problems keras_baseline.py trains on, so both train on the same ones.
    split, _ = data.make_splits(examples + 1, digits, True, 0.0, 0)
    rows = []
    for batch_size in (32, 512):
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
        try:
            config = Config(digits=digits, batch_size=batch_size)
            rounds = (1 if tiny else 2) * (1 + len(keras))
            results = paired_comparison(config, split, keras, rounds)
        except KerasProcessError as error:  # still compare at the other batch size
            results = [
                {"backend": backend, "batch_size": batch_size, "error": str(error)}
                for backend in keras
            ]
        finally:
            for server in keras.values():
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
    args = parser.parse_args()

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
        split, _ = data.make_splits(training_size, digits, True, 0.0, 0)
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

    report["keras"] = []
    if args.keras_python:
        report["keras"] = keras_comparison(args.keras_python, tiny)

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
        rows = []
        for k in report["keras"]:
            if "error" in k:
                rows.append(
                    [k["backend"], k["batch_size"], "-", "-", f"not run: {k['error']}"]
                )
                continue
            rows.append(
                [
                    f"{k['backend']} (keras {k['keras']})",
                    k["batch_size"],
                    f"{k['examples_per_sec']:,.0f}",
                    f"{k['jaxadd_examples_per_sec']:,.0f}",
                    f"**{k['ratio']:.2f}x** ({k['ratio_min']:.2f}-"
                    f"{k['ratio_max']:.2f}x over {k['rounds']} rounds)",
                ]
            )
        lines.append(
            common.markdown_table(
                [
                    "Keras backend",
                    "batch",
                    "Keras examples/s",
                    "jaxadd examples/s, same rounds",
                    "jaxadd / Keras",
                ],
                rows,
            )
        )
    return "\n".join(lines) + "\n"


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
