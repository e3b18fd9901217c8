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

This file measures and writes the JSON report (and its ``provenance``);
``keras_pairing.py`` runs the Keras comparison and the ``--serve`` processes
it pairs with, and ``render_benchmark.py`` turns the JSON into the Markdown,
on its own too: ``python experiments/render_benchmark.py REPORT.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from experiments import common, keras_pairing, render_benchmark  # noqa: E402
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
    steps_in = data.query_len(config.digits, config.leading_pads)
    steps_out = data.answer_len(config.digits)
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


def throughput(
    config: Config, split: data.Split, examples: int, repeats: int
) -> dict[str, float]:
    """Examples/s of the compiled whole-epoch function, and its compile time."""
    steps = max(5, examples // config.batch_size)
    rows = steps * config.batch_size
    queries = jnp.asarray(split.queries[:rows])
    answers = jnp.asarray(split.answers[:rows])
    timed_epoch, compile_sec = common.epoch_timer(config, queries, answers)
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
    start-up (launch to the line ``N training / M held-out problems ...``,
    printed once data, initialization and compilation are done), the epochs,
    and the exit after the last line.
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
        # The line after data and compilation; the recipe's line comes before.
        ready = [(t, line) for t, line in timed_lines if " training / " in line]
        ready_sec, ready_line = ready[0] if ready else (wall, "")
        runs.append(
            {
                "seed": seed,
                "wall_sec": wall,
                "first_line_sec": ready_sec,
                "exit_sec": wall - timed_lines[-1][0] if timed_lines else 0.0,
                "first_line": ready_line.strip(),
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
        keras_pairing.serve_epochs(args.digits, args.batch_size, args.examples)
        return

    tiny = args.tiny
    digits_list = [2] if tiny else [3, 5]
    batch_sizes = [32, 128] if tiny else [32, 128, 512, 2048]
    examples = 2_000 if tiny else 40_000
    repeats = 1 if tiny else 3
    info = common.machine_info()
    report: dict = {"provenance": common.provenance(), "machine": info, "tiny": tiny}

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
            # The Keras example's width, which the FLOP count and the pairing use.
            config = Config(digits=digits, batch_size=batch_size, hidden_size=128)
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
        report["keras"] = keras_pairing.keras_comparison(
            args.keras_python, tiny, split_cpu_devices
        )

    out = pathlib.Path(args.out)
    common.write_json(out.with_suffix(".json"), report)
    out.write_text(render_benchmark.render(report))
    print(f"wrote {out} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
