"""Input and output reversal, ablated: which one makes addition learnable?

For each number of digits, trains the four combinations of ``--reverse`` (the
query read right to left, the seed's choice) and ``--reverse_answer`` (the sum
written least-significant digit first), each until held-out exact match reaches
``--target`` or its budget (``--epochs`` and ``--max_minutes``) runs out, then
scores it with ``jaxadd.evaluate``: exact match on uniform operands and on the
longest-carry-chain bucket::

    python experiments/reverse_ablation.py                 # 3, 5, 10 digits: hours
    python experiments/reverse_ablation.py --tiny          # seconds (tests use it)
    python experiments/reverse_ablation.py --digits=5 --stem=reverse_ablation_d5

Writes ``experiments/results/<stem>.md`` and ``.json`` (``--stem``, default
``reverse_ablation``; ``--tiny`` appends ``_tiny``), with the machine. Each run
keeps its workdir under ``--workdir_root`` (and its ``evaluation.json`` there,
for ``carry_eval_chart.py``); rerunning the script resumes unfinished runs, since
training resumes from a workdir and the order of the data depends only on the
seed and the epoch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import common  # noqa: E402
from jaxadd import evaluate, train  # noqa: E402
from jaxadd.config import Config  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]

# (reverse, reverse_answer) -> name, the seed's choice first.
COMBINATIONS = {
    (True, False): "input (seed)",
    (False, True): "output",
    (True, True): "both",
    (False, False): "neither",
}
DEFAULT_TRAINING_SIZES = "3:50000,5:550000,10:1000000"


def parse_sizes(text: str) -> dict[int, int]:
    """``"3:50000,5:550000"`` -> ``{3: 50000, 5: 550000}``."""
    sizes = {}
    for item in text.split(","):
        digits, size = item.split(":")
        sizes[int(digits)] = int(size)
    return sizes


def examples_to_target(history: list[dict], batch_size: int, target: float):
    """Training examples seen when held-out exact match first reached ``target``."""
    for metrics in history:
        if metrics["val_exact_accuracy"] >= target:
            return metrics["step"] * batch_size
    return None


def read_history(workdir: str) -> list[dict]:
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def train_with_budget(config: Config, workdir: str, max_epochs: int, args) -> None:
    """Trains ``config`` in segments until the target, ``max_epochs`` or the time.

    Segments resume from the workdir (``epochs`` may change between a run and
    its resumption), so a time budget needs no support from ``train``. The
    time is the run's own ``elapsed_sec``, summed over segments and earlier
    invocations; compilation is not counted.
    """
    done, elapsed = 0, 0.0
    if os.path.exists(os.path.join(workdir, "metrics.jsonl")):
        history = read_history(workdir)
        if history:
            done, elapsed = history[-1]["epoch"], history[-1]["elapsed_sec"]
            if history[-1]["val_exact_accuracy"] >= args.target:
                return
    # A cosine schedule spans the whole budget, so it cannot grow by segments:
    # such a run is one segment, and the minutes budget does not apply.
    segment_epochs = (
        max_epochs if config.lr_schedule == "cosine" else args.segment_epochs
    )
    while done < max_epochs and elapsed < 60 * args.max_minutes:
        epochs = min(done + segment_epochs, max_epochs)
        segment = dataclasses.replace(config, epochs=epochs)
        result = train.train_and_evaluate(segment, workdir, log=args.log)
        done, elapsed = result["epoch"], result["elapsed_sec"]
        if result["val_exact_accuracy"] >= args.target:
            return


def run_one(digits: int, reverse: bool, reverse_answer: bool, args) -> dict:
    """Trains and evaluates one combination; returns its table row."""
    config = Config(
        digits=digits,
        reverse=reverse,
        reverse_answer=reverse_answer,
        training_size=args.sizes[digits],
        batch_size=args.batch_size,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        learning_rate=args.learning_rate,
        lr_schedule=args.lr_schedule,
        sampling=args.sampling,
        seed=args.seed,
        target_accuracy=args.target,
        epochs=args.epochs,
        num_samples=0,
    )
    name = f"d{digits}_in{int(reverse)}_out{int(reverse_answer)}"
    workdir = os.path.join(args.workdir_root, name)
    args.log(f"== {name}: {COMBINATIONS[(reverse, reverse_answer)]} ==")
    train_with_budget(config, workdir, args.epochs, args)
    history = read_history(workdir)
    report = evaluate.evaluate_workdir(workdir, args.per_bucket, args.eval_seed)
    last = history[-1]
    return {
        "digits": digits,
        "reversal": COMBINATIONS[(reverse, reverse_answer)],
        "reverse": reverse,
        "reverse_answer": reverse_answer,
        "training_size": config.training_size,
        "epochs_run": last["epoch"],
        "reached_target": last["val_exact_accuracy"] >= args.target,
        "examples_to_target": examples_to_target(
            history, config.batch_size, args.target
        ),
        "val_exact_accuracy": last["val_exact_accuracy"],
        "uniform_accuracy": report["uniform_accuracy"],
        "longest_chain_accuracy": report["longest_chain_accuracy"],
        "train_sec": last["elapsed_sec"],
        "workdir": workdir,
    }


def write_results(
    rows: list[dict], args, out_stem: pathlib.Path, provenance: dict[str, str]
) -> None:
    machine = common.machine_info()
    settings = {
        name: getattr(args, name)
        for name in (
            "digits",
            "sizes",
            "epochs",
            "max_minutes",
            "batch_size",
            "hidden_size",
            "num_layers",
            "learning_rate",
            "lr_schedule",
            "sampling",
            "seed",
            "target",
            "per_bucket",
            "eval_seed",
        )
    }
    common.write_json(
        out_stem.with_suffix(".json"),
        {
            "provenance": provenance,
            "machine": machine,
            "settings": settings,
            "rows": rows,
        },
    )
    header = [
        "digits",
        "reversal",
        "epochs",
        f"examples to {100 * args.target:g}%",
        "held-out exact %",
        "uniform exact %",
        "longest-chain exact %",
        "train s",
    ]
    table = [
        [
            row["digits"],
            row["reversal"],
            row["epochs_run"],
            "not reached"
            if row["examples_to_target"] is None
            else f"{row['examples_to_target']:,}",
            common.percent(row["val_exact_accuracy"]),
            common.percent(row["uniform_accuracy"]),
            common.percent(row["longest_chain_accuracy"]),
            f"{row['train_sec']:.0f}",
        ]
        for row in rows
    ]
    text = (
        "# Reversal ablation\n\n"
        f"{common.provenance_line(provenance)}\n\n"
        f"Machine: {common.machine_line(machine)}.\n\n"
        f"Each run trains until held-out exact match reaches {args.target} or "
        f"{args.epochs} epochs / {args.max_minutes} minutes of training pass; "
        f"hidden size {args.hidden_size}, {args.num_layers} decoder layer(s), "
        f"batch {args.batch_size}, learning rate {args.learning_rate} "
        f"({args.lr_schedule}), "
        f"`--sampling={args.sampling}`, seed {args.seed}; training sizes "
        f"{args.sizes}. Uniform and longest-chain sets: `jaxadd.evaluate`, "
        f"{args.per_bucket} problems per bucket, none trained on.\n\n"
        + common.markdown_table(header, table)
    )
    out_stem.with_suffix(".md").write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", default="3,5,10", help="comma-separated")
    parser.add_argument(
        "--training_sizes",
        default=DEFAULT_TRAINING_SIZES,
        help="digits:problems, comma-separated",
    )
    parser.add_argument("--epochs", type=int, default=200, help="epoch budget a run")
    parser.add_argument(
        "--max_minutes", type=float, default=20.0, help="training time budget a run"
    )
    parser.add_argument("--segment_epochs", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--hidden_size", type=int, default=128)
    parser.add_argument("--num_layers", type=int, default=1)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument(
        "--lr_schedule", default="constant", choices=("constant", "cosine")
    )
    parser.add_argument("--sampling", default="seed", choices=("seed", "uniform"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--per_bucket", type=int, default=1000)
    parser.add_argument("--eval_seed", type=int, default=0)
    parser.add_argument(
        "--stem", default="reverse_ablation", help="results file name, e.g. per digits"
    )
    parser.add_argument("--workdir_root", help="default: runs/<stem>")
    parser.add_argument("--out_dir", default=str(common.RESULTS))
    parser.add_argument(
        "--compilation_cache",
        help="jax's persistent compilation cache (default: WORKDIR_ROOT/jax_cache; "
        "'' for none)",
    )
    parser.add_argument(
        "--tiny", action="store_true", help="1 digit, tiny model: a smoke test"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    args = parser.parse_args(argv)
    # Taken first: the commit and the date the runs start from.
    provenance = common.provenance(None if argv is None else [__file__, *argv])
    if args.tiny:
        args.digits, args.training_sizes = "1", "1:55"
        args.epochs, args.segment_epochs, args.max_minutes = 1, 1, 1.0
        args.batch_size, args.hidden_size, args.per_bucket = 32, 8, 20
        args.stem = f"{args.stem}_tiny"
    stem = args.stem
    if args.workdir_root is None:
        args.workdir_root = str(ROOT / "runs" / stem)
    args.digits = [int(d) for d in args.digits.split(",")]
    args.sizes = parse_sizes(args.training_sizes)
    missing = [d for d in args.digits if d not in args.sizes]
    if missing:
        parser.error(f"--training_sizes gives no size for digits {missing}")
    args.log = (
        (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    )

    if args.compilation_cache is None:
        args.compilation_cache = os.path.join(args.workdir_root, "jax_cache")
    if args.compilation_cache:
        # The four combinations of one digit count compile the very same
        # programs (reversal changes the data, not the shapes); jax's in-memory
        # cache misses them (each run makes new jitted functions), the
        # persistent cache, keyed by the program, does not.
        import jax

        jax.config.update("jax_compilation_cache_dir", args.compilation_cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)

    start = time.perf_counter()
    rows = [
        run_one(digits, reverse, reverse_answer, args)
        for digits in args.digits
        for reverse, reverse_answer in COMBINATIONS
    ]
    out_stem = pathlib.Path(args.out_dir) / stem
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    write_results(rows, args, out_stem, provenance)
    print(out_stem.with_suffix(".md").read_text())
    print(f"wrote {out_stem}.md and .json in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
