"""Input and output reversal, ablated: which one makes addition learnable?

For each number of digits, trains the four combinations of ``--reverse`` (the
query read right to left, the Keras example's choice) and ``--reverse_answer`` (the sum
written least-significant digit first), each until held-out exact match reaches
``--target_accuracy`` or its budget (``--epochs`` and ``--max_minutes``) runs out, then
scores it with ``jaxadd.evaluate``: exact match on uniform operands and on the
longest-carry-chain bucket::

    python experiments/reverse_ablation.py                 # 3, 5, 10 digits: hours
    python experiments/reverse_ablation.py --tiny          # seconds (tests use it)
    python experiments/reverse_ablation.py --digits=5 --stem=reverse_ablation_d5
    python experiments/reverse_ablation.py --config=d5 --stem=reverse_ablation_d5

The settings are ``jaxadd.main``'s flags, spelled the same (``--target_accuracy``,
``--lr_schedule``, ``--config=NAME``, ...); without ``--config`` the script's own
recipe (``BASE``: the Keras example's batch 32 and constant Adam 1e-3, a budget
of 200 epochs, target 0.99) is the starting point, and a recipe that sets no
target keeps 0.99. ``--digits`` takes a comma-separated list, one ablation each
(default 3,5,10, or the recipe's own); ``--training_sizes`` gives each digit
count its problems (without it, a ``--config`` recipe's own count replaces the
default for its digit count). The reversals
are the ablated axes, so there are no ``--reverse`` flags.

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

# (reverse, reverse_answer) -> name, the Keras example's (the seed's) first.
COMBINATIONS = {
    (True, False): "input (seed)",
    (False, True): "output",
    (True, True): "both",
    (False, False): "neither",
}
DEFAULT_TRAINING_SIZES = "3:50000,5:550000,10:1000000"
DEFAULT_DIGITS = [3, 5, 10]
# The script's own recipe, where no --config is given: the Keras example's
# training, with an epoch budget long enough to reach the target.
BASE = Config(
    hidden_size=128,
    batch_size=32,
    learning_rate=1e-3,
    lr_schedule="constant",
    sampling="keras",
    epochs=200,
    target_accuracy=0.99,
    num_samples=0,
)
SETTINGS = (
    "digits",
    "epochs",
    "batch_size",
    "hidden_size",
    "num_layers",
    "learning_rate",
    "lr_schedule",
    "sampling",
    "seed",
    "target_accuracy",
)


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
            if history[-1]["val_exact_accuracy"] >= config.target_accuracy:
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
        if result["val_exact_accuracy"] >= config.target_accuracy:
            return


def run_one(digits: int, reverse: bool, reverse_answer: bool, args) -> dict:
    """Trains and evaluates one combination; returns its table row."""
    config = dataclasses.replace(
        args.base,
        digits=digits,
        reverse=reverse,
        reverse_answer=reverse_answer,
        training_size=args.sizes[digits],
        num_samples=0,
    )
    name = f"d{digits}_in{int(reverse)}_out{int(reverse_answer)}"
    workdir = os.path.join(args.workdir_root, name)
    args.log(f"== {name}: {COMBINATIONS[(reverse, reverse_answer)]} ==")
    train_with_budget(config, workdir, config.epochs, args)
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
        "reached_target": last["val_exact_accuracy"] >= config.target_accuracy,
        "examples_to_target": examples_to_target(
            history, config.batch_size, config.target_accuracy
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
    base = args.base
    # The results file's keys as they were before the flags took jaxadd.main's
    # names ("target"), so that earlier files and readers of them still agree.
    settings = {
        "digits": args.digits,
        "sizes": args.sizes,
        "epochs": base.epochs,
        "max_minutes": args.max_minutes,
        "batch_size": base.batch_size,
        "hidden_size": base.hidden_size,
        "num_layers": base.num_layers,
        "learning_rate": base.learning_rate,
        "lr_schedule": base.lr_schedule,
        "sampling": base.sampling,
        "seed": base.seed,
        "target": base.target_accuracy,
        "per_bucket": args.per_bucket,
        "eval_seed": args.eval_seed,
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
        f"examples to {100 * base.target_accuracy:g}%",
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
        f"Each run trains until held-out exact match reaches "
        f"{base.target_accuracy} or "
        f"{base.epochs} epochs / {args.max_minutes} minutes of training pass; "
        f"hidden size {base.hidden_size}, {base.num_layers} decoder layer(s), "
        f"batch {base.batch_size}, learning rate {base.learning_rate} "
        f"({base.lr_schedule}), "
        f"`--sampling={base.sampling}`, seed {base.seed}; training sizes "
        f"{args.sizes}. Uniform and longest-chain sets: `jaxadd.evaluate`, "
        f"{args.per_bucket} problems per bucket, none trained on.\n\n"
        + common.markdown_table(header, table)
    )
    out_stem.with_suffix(".md").write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_config_flags(parser, only=SETTINGS, lists=("digits",))
    parser.add_argument(
        "--training_sizes",
        help=f"digits:problems, comma-separated (default {DEFAULT_TRAINING_SIZES})",
    )
    parser.add_argument(
        "--max_minutes", type=float, default=20.0, help="training time budget a run"
    )
    parser.add_argument("--segment_epochs", type=int, default=5)
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
    base = common.config_from_args(args, BASE)
    if base.target_accuracy is None:  # a recipe without one: the script's
        base = dataclasses.replace(base, target_accuracy=BASE.target_accuracy)
    args.digits = args.digits or ([base.digits] if args.config else DEFAULT_DIGITS)
    if args.tiny:
        args.digits, args.training_sizes = [1], "1:55"
        base = dataclasses.replace(base, epochs=1, batch_size=32, hidden_size=8)
        args.segment_epochs, args.max_minutes = 1, 1.0
        args.per_bucket = 20
        args.stem = f"{args.stem}_tiny"
    args.base = base
    stem = args.stem
    if args.workdir_root is None:
        args.workdir_root = str(ROOT / "runs" / stem)
    # --training_sizes, where given, is the whole map; else the default one,
    # in which a recipe's own problem count replaces its digit count's.
    args.sizes = parse_sizes(args.training_sizes or DEFAULT_TRAINING_SIZES)
    if args.config and not args.training_sizes:
        args.sizes[base.digits] = base.training_size
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
