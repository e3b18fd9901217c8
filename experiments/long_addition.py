"""Long addition: exact match against the number of digits and the LSTM width.

Trains one run per (digits, hidden size) pair of a grid, every run with the
same recipe and the same budget (``--epochs`` passes over ``--training_size``
problems), and scores each on its held-out split and on ``jaxadd.evaluate``'s
longest-carry-chain bucket::

    python experiments/long_addition.py                # the grid below: ~20 min
    python experiments/long_addition.py --digits=10 --hidden_size=256 \
        --training_size=500000 --epochs=13 --curriculum_epochs=4 \
        --carry_fraction=0.2 --stem=long_addition_d10_1h   # ~1 h: d10 at 1e-2
    python experiments/long_addition.py --config=d10   # 1-2 h on 2 cores: d10
    python experiments/long_addition.py --tiny         # seconds (tests use it)

The settings are ``jaxadd.main``'s flags, spelled the same (``--noreverse``,
``--config=NAME``, ...); without ``--config`` the script's own recipe (``BASE``:
200,000 problems, 3 epochs, batch 128, Adam 1e-2 cosine) is the starting point.
The two sweep axes, ``--digits`` and ``--hidden_size``, take a comma-separated
list (``--digits=5,7,10``; one value is one run, as in ``jaxadd.main``): by
default the grid 5,7,10 x 64,128,256, or, with ``--config``, the recipe's own.

Writes ``experiments/results/<stem>.md``, ``.json`` and ``.png`` (held-out exact
match against digits, one line per width; against training examples, one line
per run; and against the longer operand's length), with the machine. Runs keep
their workdirs under ``--workdir_root``; rerunning the script resumes an
unfinished run and scores a finished one again without training it. Ctrl-C
(or SIGTERM) stops a run at once, mid-epoch too, with one line on stderr and
exit 130 (143); every finished epoch stays in its workdir, and the same
command resumes from there.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import shlex
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import common  # noqa: E402
from jaxadd import cli, evaluate, train  # noqa: E402
from jaxadd.config import Config  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROG = "long_addition"


# The script's own recipe, where no --config is given: a shorter budget than
# jaxadd's defaults, for a grid of many runs.
BASE = Config(
    training_size=200_000,
    epochs=3,
    batch_size=128,
    learning_rate=1e-2,
    lr_schedule="cosine",
    sampling="keras",
    num_samples=0,
)
GRID_DIGITS = [5, 7, 10]
GRID_HIDDEN_SIZES = [64, 128, 256]
SETTINGS = (
    "digits",
    "hidden_size",
    "reverse",
    "reverse_answer",
    "leading_pads",
    "leading_zeros",
    "training_size",
    "epochs",
    "batch_size",
    "num_layers",
    "forget_bias",
    "learning_rate",
    "lr_schedule",
    "warmup_steps",
    "sampling",
    "keras_fraction",
    "carry_fraction",
    "repeat_fraction",
    "sparse_fraction",
    "full_run_fraction",
    "curriculum_epochs",
    "seed",
)


def make_config(digits: int, hidden_size: int, args) -> Config:
    """``args.base`` for one cell of the grid (no samples printed: a table run)."""
    return dataclasses.replace(
        args.base, digits=digits, hidden_size=hidden_size, num_samples=0
    )


def _pooled_by(buckets: list[dict], key) -> dict[int, list[int]]:
    """``key(lengths) -> [n, correct]``, pooling the operand-length buckets."""
    totals: dict[int, list[int]] = {}
    for bucket in buckets:
        if bucket["n"]:
            n_correct = totals.setdefault(key(bucket["lengths"]), [0, 0])
            n_correct[0] += bucket["n"]
            n_correct[1] += bucket["correct"]
    return totals


def by_longer_length(report: dict) -> list[dict]:
    """Exact match by the longer operand's length, from the operand-length suite."""
    totals = _pooled_by(report["operand_lengths"], max)
    return [
        {"length": length, "n": n, "accuracy": correct / n}
        for length, (n, correct) in sorted(totals.items())
    ]


def run_one(digits: int, hidden_size: int, args) -> dict:
    """Trains (or resumes) one run, scores it; returns its row."""
    config = make_config(digits, hidden_size, args)
    workdir = os.path.join(args.workdir_root, f"d{digits}_h{hidden_size}")
    args.log(f"== {digits} digits, hidden size {hidden_size}: {workdir} ==")
    result = train.train_and_evaluate(config, workdir, log=args.log)
    report = evaluate.evaluate_workdir(workdir, args.per_bucket, args.eval_seed)
    full = common.full_length_scores(config, result["params"])
    history = result["history"]
    return {
        "digits": digits,
        "hidden_size": hidden_size,
        "num_params": result["num_params"],
        "examples": result["step"] * config.batch_size,
        "val_exact_accuracy": result["val_exact_accuracy"],
        "val_char_accuracy": result["val_char_accuracy"],
        "uniform_accuracy": report["uniform_accuracy"],
        "longest_chain_accuracy": report["longest_chain_accuracy"],
        **full,
        "by_longer_length": by_longer_length(report),
        "operand_lengths": report["operand_lengths"],
        "carry_chain": report["carry_chain"],
        "train_examples_per_sec": history[-1]["train_examples_per_sec"],
        "train_sec": result["elapsed_sec"],
        "curve": [
            {
                "examples": h["step"] * config.batch_size,
                "val_exact_accuracy": h["val_exact_accuracy"],
                "val_char_accuracy": h["val_char_accuracy"],
                "uniform_exact_accuracy": h.get("uniform_exact_accuracy"),
                "longest_chain_exact_accuracy": h.get("longest_chain_exact_accuracy"),
            }
            for h in history
        ],
        "workdir": workdir,
    }


def full_length_accuracy(row: dict) -> float | None:
    """Exact match when both operands have ``digits`` digits."""
    for bucket in row["operand_lengths"]:
        if bucket["lengths"] == [row["digits"], row["digits"]] and bucket["n"]:
            return bucket["correct"] / bucket["n"]
    return None


def by_total_length(row: dict, shortest: int = 4) -> list[tuple[int, float]]:
    """Exact match by the two operands' digits together, longest first.

    From the operand-length buckets, the ``shortest`` largest totals: at 10
    digits, 20 (two 10-digit operands, no padding in the query), 19, 18, 17.
    """
    totals = _pooled_by(row["operand_lengths"], sum)
    longest = sorted(totals, reverse=True)[:shortest]
    return [(total, totals[total][1] / totals[total][0]) for total in longest]


def render(
    rows: list[dict], settings: dict, machine: dict, provenance: dict[str, str]
) -> str:
    header = [
        "digits",
        "hidden",
        "parameters",
        "examples",
        "held-out exact %",
        "held-out char %",
        "uniform exact %",
        "longest-chain exact %",
        "both operands full length, exact %",
        "uniform-10k exact %",
        f"longest chain ({common.LONGEST_CHAIN_SIZE:,}) exact %",
        "edge cases right",
        "examples/s",
        "train s",
    ]
    table = [
        [
            row["digits"],
            row["hidden_size"],
            f"{row['num_params']:,}",
            f"{row['examples']:,}",
            common.percent(row["val_exact_accuracy"]),
            common.percent(row["val_char_accuracy"]),
            common.percent(row["uniform_accuracy"]),
            common.percent(row["longest_chain_accuracy"]),
            common.percent(full_length_accuracy(row)),
            common.percent(row["uniform_10k"]["accuracy"]),
            common.percent(row["longest_chain"]["accuracy"]),
            f"{row['edge_cases']['correct']} of {row['edge_cases']['n']}",
            f"{row['train_examples_per_sec']:,.0f}",
            f"{row['train_sec']:.0f}",
        ]
        for row in rows
    ]
    flags = " ".join(f"--{k}={v}" for k, v in settings["recipe_flags"].items())
    return (
        f"# Long addition: {settings['title']}\n\n"
        f"{common.provenance_line(provenance)}\n\n"
        f"Machine: {common.machine_line(machine)}.\n\n"
        f"Every run: `python -m jaxadd.main --digits=D --hidden_size=H {flags}` "
        f"(made by `python experiments/long_addition.py "
        f"{settings['command_args']}`). Held-out: the run's own held-out split "
        f"(same sampling as training). Uniform and longest-chain: "
        f"`jaxadd.evaluate`, {settings['per_bucket']} problems per bucket, none "
        "trained on. Uniform-10k: the fixed 10,000 uniform problems "
        "(`jaxadd.evaluate --suite=uniform-10k`) and their edge cases; longest "
        f"chain ({common.LONGEST_CHAIN_SIZE:,}): problems whose carry runs "
        "through every column, suite seed 0; none trained on. Exact = the whole "
        "answer right.\n\n"
        + common.markdown_table(header, table)
        + "\nUniform-10k's wrong answers, digit by digit (position 0 is the "
        "units; `wrong_digits` in `experiments/common.py`):\n\n"
        + "".join(f"- {_wrong_digits_line(row)}\n" for row in rows)
        + "\nExact match by the two operands' digits together (operand-length "
        "buckets; 2 x digits is a query with no padding):\n\n"
        + "".join(
            f"- {row['digits']} digits, width {row['hidden_size']}: "
            + ", ".join(
                f"{total}: {common.percent(accuracy)}%"
                for total, accuracy in by_total_length(row)
            )
            + "\n"
            for row in rows
        )
    )


def _wrong_digits_line(row: dict) -> str:
    """Where one run's uniform-10k answers go wrong, as one line."""
    scores = row["uniform_10k"]
    wrong = scores["n"] - scores["correct"]
    if "wrong_at_position" not in scores:  # scored before the count existed
        return f"{row['digits']} digits, width {row['hidden_size']}: not counted"
    if not wrong:
        return f"{row['digits']} digits, width {row['hidden_size']}: none wrong"
    positions = ", ".join(
        f"{k}: {n:,}" for k, n in enumerate(scores["wrong_at_position"]) if n
    )
    per_answer = ", ".join(f"{n:,} with {k}" for k, n in scores["digits_wrong"].items())
    return (
        f"{row['digits']} digits, width {row['hidden_size']}: {wrong:,} wrong "
        f"({per_answer} wrong digits); wrong digits by position: {positions or '-'}"
    )


def _finish(ax, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_ylim(-2, 102)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def _one_line_per_run(ax, rows: list[dict], points: str, x: str, y: str) -> None:
    """Plots ``row[points]`` as ``(p[x], 100 * p[y])`` for every row."""
    for row in rows:
        ax.plot(
            [p[x] for p in row[points]],
            [100 * p[y] for p in row[points]],
            "o-",
            markersize=3,
            label=f"{row['digits']} digits, hidden {row['hidden_size']}",
        )


def draw(rows: list[dict], out: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a training machine
    import matplotlib.pyplot as plt

    fig, (by_digits, by_examples, by_length) = plt.subplots(1, 3, figsize=(17, 4.8))
    for hidden_size in sorted({r["hidden_size"] for r in rows}):
        own = sorted(
            (r for r in rows if r["hidden_size"] == hidden_size),
            key=lambda r: r["digits"],
        )
        digits = [r["digits"] for r in own]
        by_digits.plot(
            digits,
            [100 * r["val_exact_accuracy"] for r in own],
            "o-",
            label=f"hidden {hidden_size}: held-out",
        )
        by_digits.plot(
            digits,
            [100 * (r["longest_chain_accuracy"] or 0.0) for r in own],
            "x--",
            color=by_digits.lines[-1].get_color(),
            label=f"hidden {hidden_size}: longest chain",
        )
    _finish(by_digits, "digits", "exact match %", "After the same budget of examples")
    _one_line_per_run(by_examples, rows, "curve", "examples", "val_exact_accuracy")
    _finish(
        by_examples, "training examples", "held-out exact match %", "Learning curves"
    )
    _one_line_per_run(by_length, rows, "by_longer_length", "length", "accuracy")
    _finish(
        by_length,
        "digits of the longer operand",
        "exact match %",
        "Where it fails (operand-length suite)",
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_config_flags(parser, only=SETTINGS, lists=("digits", "hidden_size"))
    parser.add_argument("--per_bucket", type=int, default=500)
    parser.add_argument("--eval_seed", type=int, default=0)
    parser.add_argument("--stem", default="long_addition", help="results file name")
    parser.add_argument("--title", default="exact match against digits and width")
    parser.add_argument("--workdir_root", help="default: runs/<stem>")
    parser.add_argument("--out_dir", default=str(common.RESULTS))
    parser.add_argument(
        "--tiny", action="store_true", help="2-3 digits, tiny model: a smoke test"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    args = parser.parse_args(argv)
    command_args = shlex.join(argv if argv is not None else sys.argv[1:])
    provenance = common.provenance(None if argv is None else [__file__, *argv])
    args.base = common.config_from_args(args, BASE)
    # Without a recipe the grid; a recipe is one run, at its own digits and width.
    digits_list = args.digits or ([args.base.digits] if args.config else GRID_DIGITS)
    widths = args.hidden_size or (
        [args.base.hidden_size] if args.config else GRID_HIDDEN_SIZES
    )
    if args.tiny:
        digits_list, widths = [2, 3], [8]
        args.base = dataclasses.replace(args.base, training_size=2000, epochs=1)
        args.per_bucket = 20
        args.stem = f"{args.stem}_tiny"
    if args.workdir_root is None:
        args.workdir_root = str(ROOT / "runs" / args.stem)
    args.log = (
        (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    )
    start = time.perf_counter()
    # In a thread, so that Ctrl-C need not wait for a compiled epoch (minutes).
    rows = cli.run_interruptibly(
        PROG,
        lambda: [run_one(d, h, args) for h in widths for d in digits_list],
        lambda: (
            f"finished epochs kept under {args.workdir_root}; "
            "the same command resumes from there"
        ),
    )

    reference = make_config(digits_list[0], widths[0], args)
    # The grid's axes (digits, width) vary by row; the other settings do not.
    recipe_flags = {
        name: getattr(reference, name)
        for name in SETTINGS
        if name not in ("digits", "hidden_size")
    }
    settings = {
        "title": args.title,
        "recipe_flags": recipe_flags,
        "command_args": command_args,
        "per_bucket": args.per_bucket,
        "eval_seed": args.eval_seed,
    }
    machine = common.machine_info()
    out_stem = pathlib.Path(args.out_dir) / args.stem
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    common.write_json(
        out_stem.with_suffix(".json"),
        {
            "provenance": provenance,
            "machine": machine,
            "settings": settings,
            "rows": rows,
        },
    )
    text = render(rows, settings, machine, provenance)
    out_stem.with_suffix(".md").write_text(text)
    draw(rows, out_stem.with_suffix(".png"))
    print(text)
    print(f"wrote {out_stem}.md, .json and .png in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
