"""Training speed of a named recipe: examples/s and model FLOPs utilization.

    python experiments/recipe_speed.py --config=d10   # ~10 min: recipe_speed_d10.md
    python experiments/recipe_speed.py --tiny         # seconds (tests use it)

``benchmark.py`` times the Keras example's width at 3 and 5 digits; this times
one recipe as it trains (its digits, width, depth and sampling), so that the
wall of a long run can be split into examples needed and examples per second.
Every figure comes from one run on one machine:

- the float32 matmul peak, measured as ``benchmark.py`` measures it;
- for each ``--batch_sizes`` on one device with the hand-written LSTM
  backward pass, then at the recipe's batch with ``--lstm_backward=autodiff``,
  and at the recipe's batch split over ``--cpu_devices`` CPU devices (a child
  process: JAX fixes the device count at start-up): the median of three timed
  epochs of ``--examples`` problems drawn as the recipe draws them, after one
  untimed epoch that compiles and allocates;
- MFU: ``benchmark.py``'s count of the matmul FLOPs of the straightforward
  Keras formulation per example, times examples/s, over the peak.

Writes ``results/recipe_speed_<config>.json`` and ``.md`` (``--out`` for
another stem).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

from experiments import benchmark, common  # noqa: E402
from jaxadd import configs, devices, train  # noqa: E402
from jaxadd.config import Config  # noqa: E402


def measure(config: Config, examples: int, repeats: int) -> dict:
    """One row: examples/s, compile seconds and XLA's FLOPs for ``config``."""
    # The recipe's own problems, fewer of them, all for training.
    problems = dataclasses.replace(
        config,
        training_size=max(examples, 2 * config.batch_size),
        val_fraction=0.0,
        seed=0,
    )
    split, _ = train.make_splits(problems)
    row = benchmark.throughput(config, split, examples, repeats)
    row.update(
        batch_size=config.batch_size,
        lstm_backward=config.lstm_backward,
        devices=jax.device_count(),
        straightforward_flops_per_example=benchmark.straightforward_flops_per_example(
            config
        ),
    )
    return row


def split_cpu_row(args: argparse.Namespace, config: Config) -> dict:
    """``measure`` at the recipe's batch in a child on ``--cpu_devices`` devices."""
    command = [
        sys.executable,
        __file__,
        f"--child_cpu_devices={args.cpu_devices}",
        f"--examples={args.examples}",
        f"--repeats={args.repeats}",
        f"--config_json={json.dumps(dataclasses.asdict(config))}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=common.ROOT)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise SystemExit(f"the --cpu_devices child failed: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def render(report: dict) -> str:
    config, peak = report["config"], report["matmul_peak_flops"]
    lines = [
        f"# Training speed of the recipe `{report['recipe']}`",
        "",
        common.provenance_line(report["provenance"]),
        "",
        f"Recipe: {config['digits']} digits, width {config['hidden_size']}, "
        f"{config['num_layers']} decoder layer(s), batch {config['batch_size']}; "
        f"each row the median of {report['repeats']} timed epochs of "
        f"{report['examples']:,} examples. Float32 matmul peak in this run: "
        f"{peak / 1e9:.1f} GFLOP/s. MFU: the straightforward Keras formulation's "
        "matmul FLOPs per example times examples/s, over that peak.",
        "",
        "| batch | LSTM backward | devices | examples/s | MFU | "
        "FLOPs/example (Keras formulation, XLA) | compile s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['batch_size']} | {row['lstm_backward']} | {row['devices']} "
            f"| {row['examples_per_sec']:,.0f} | {row['mfu']:.1%} "
            f"| {row['straightforward_flops_per_example'] / 1e6:.1f}M, "
            f"{row['xla_flops_per_example'] / 1e6:.1f}M | {row['compile_sec']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=configs.NAMES, default="d10")
    parser.add_argument("--batch_sizes", default="128,256,512")
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu_devices", type=int, default=2, help="1 skips the row")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--out", help="default: results/recipe_speed_<config>")
    parser.add_argument("--child_cpu_devices", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--config_json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child_cpu_devices:
        config = Config(**json.loads(args.config_json))
        error = devices.split_cpu(args.child_cpu_devices, config.batch_size)
        if error:
            raise SystemExit(error)
        print(json.dumps(measure(config, args.examples, args.repeats)))
        return 0

    config, recipe = configs.get(args.config), args.config
    stem = args.out or str(common.RESULTS / f"recipe_speed_{args.config}")
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.tiny:
        config = dataclasses.replace(config, digits=2, hidden_size=8, batch_size=16)
        batch_sizes, args.examples, args.repeats = [16], 200, 1
        recipe += " (tiny: 2 digits, width 8)"
        stem += "" if args.out else "_tiny"
    provenance = common.provenance(None if argv is None else [__file__, *argv])
    machine = common.machine_info()
    peak = benchmark.matmul_peak_flops(256 if args.tiny else 2048, 5)

    rows = [
        measure(dataclasses.replace(config, batch_size=b), args.examples, args.repeats)
        for b in batch_sizes
    ]
    autodiff = dataclasses.replace(config, lstm_backward="autodiff")
    rows.append(measure(autodiff, args.examples, args.repeats))
    if args.cpu_devices > 1 and machine["backend"] == "cpu":
        rows.append(split_cpu_row(args, config))
    for row in rows:
        row["mfu"] = row["straightforward_flops_per_example"] * (
            row["examples_per_sec"] / peak
        )
        print(json.dumps(row), flush=True)

    report = {
        "provenance": provenance,
        "machine": machine,
        "recipe": recipe,
        "config": dataclasses.asdict(config),
        "examples": args.examples,
        "repeats": args.repeats,
        "matmul_peak_flops": peak,
        "rows": rows,
    }
    out = pathlib.Path(stem)
    common.write_json(out.with_suffix(".json"), report)
    out.with_suffix(".md").write_text(render(report))
    print(f"wrote {out}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
