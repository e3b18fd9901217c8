"""Reproduces the Keras example's results table with held-out exact match.

    python experiments/reproduce_table.py                  # every row
    python experiments/reproduce_table.py --rows=best      # rows whose name matches
    python experiments/reproduce_table.py --render_only    # redraw from saved runs
    python experiments/reproduce_table.py --tiny           # seconds-long smoke run

The Keras example claims 99% (per-character, padding included) for 2 to 5 digits,
reversed, one 128-unit LSTM: 2 digits / 5k examples / 55 epochs, 3 / 50k / 100,
4 / 400k / 20, 5 / 550k / 30. Each row here trains until held-out **exact match**
reaches 0.99 or the row's epoch budget runs out, with the Keras example's
settings (answer as written, batch 32, Adam 1e-3, at most its epochs) and with
jaxadd's own settings; plus runs with neither query nor answer reversed for 2
and 3 digits, the ablation that motivates reversal, and ``sched-d2``: its
2-digit row with only the learning-rate schedule changed.

Each finished row is saved to ``results/table_runs/<name>.json`` at once, so a
long session can be split over several invocations; the table
(``results/table.md`` and ``table.json``) and ``results/curves.png`` are redrawn
from every saved row after each one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import common  # noqa: E402
from jaxadd import data, train  # noqa: E402
from jaxadd.config import KERAS_TRAINING, Config  # noqa: E402

RUNS = common.RESULTS / "table_runs"
TRAIN_EVAL_LIMIT = 50_000

SEED_ROWS = {2: (5_000, 55), 3: (50_000, 100), 4: (400_000, 20), 5: (550_000, 30)}


# jaxadd's own settings per row: those the recipes of ``jaxadd.configs`` had
# when results/table.md was made (``default``, ``d10`` and the 3-digit one are
# still the recipes; ``d2``, ``d4`` and ``d5`` have since changed, to the
# settings results/digits_defaults.md measures on full-length problems). The
# cosine schedule decays over exactly ``epochs``, so the budget is part of the
# settings, not only a cap. Every row stops on the held-out split alone
# (``target_on="held_out"``): the Keras example's rule, which this table
# reproduces. Past the Keras example's table, d10 is the recipe
# experiments/long_addition.py found for 10 digits within an hour of CPU
# training (README, Evaluation).
BEST = {
    2: {"batch_size": 32, "learning_rate": 5e-3, "epochs": 40},
    3: {},
    4: {"batch_size": 128, "learning_rate": 1e-2, "epochs": 4},
    5: {"batch_size": 128, "learning_rate": 1e-2, "epochs": 8},
    10: dict(
        hidden_size=256,
        batch_size=128,
        learning_rate=1e-2,
        epochs=13,
        curriculum_epochs=4,
        carry_fraction=0.2,
    ),
}
LONG_ROWS = {10: 500_000}


def best_settings(digits: int, training_size: int) -> Config:
    """The table's settings for ``digits``, its problem count and its target."""
    return Config(
        digits=digits,
        training_size=training_size,
        target_accuracy=0.99,
        target_on="held_out",
        num_samples=0,
        **BEST[digits],
    )


def all_rows() -> dict[str, Config]:
    rows: dict[str, Config] = {}
    for digits, (size, epochs) in SEED_ROWS.items():
        rows[f"keras-d{digits}"] = Config(
            digits=digits,
            training_size=size,
            target_accuracy=0.99,
            target_on="held_out",
            num_samples=0,
            **{**KERAS_TRAINING, "epochs": epochs},
        )
    # The Keras example's settings miss 99% at 2 digits; this row changes only the
    # learning rate and its schedule, to those of best-d2 (README).
    best_d2 = best_settings(2, SEED_ROWS[2][0])
    rows["sched-d2"] = dataclasses.replace(
        rows["keras-d2"],
        learning_rate=best_d2.learning_rate,
        lr_schedule="cosine",
        epochs=best_d2.epochs,
    )
    for digits, (size, _) in SEED_ROWS.items():
        rows[f"best-d{digits}"] = best_settings(digits, size)
    for digits in (2, 3):
        size, _ = SEED_ROWS[digits]
        best = best_settings(digits, size)
        rows[f"noreverse-d{digits}"] = dataclasses.replace(
            best, reverse=False, reverse_answer=False
        )
    for digits, size in LONG_ROWS.items():
        rows[f"best-d{digits}"] = best_settings(digits, size)
    return rows


def tiny_rows() -> dict[str, Config]:
    base = Config(
        digits=1,
        training_size=55,
        val_fraction=0.2,
        epochs=2,
        batch_size=8,
        hidden_size=8,
        target_accuracy=0.99,
        num_samples=0,
    )
    neither = dataclasses.replace(base, reverse=False, reverse_answer=False)
    return {"tiny-rev": base, "tiny-norev": neither}


def longest_chain_accuracy(config: Config, params) -> float | None:
    """Exact match on the bucket of problems with the longest carry chain."""
    from jaxadd import evaluate

    return evaluate.evaluate_params(config, params)["longest_chain_accuracy"]


def run_row(name: str, config: Config) -> dict:
    start = time.perf_counter()
    result = train.train_and_evaluate(config, log=lambda line: None)
    wall = time.perf_counter() - start
    train_split, _ = train.make_splits(config)
    limit = slice(0, TRAIN_EVAL_LIMIT)
    subset = data.Split(
        a=train_split.a[limit],
        b=train_split.b[limit],
        queries=train_split.queries[limit],
        answers=train_split.answers[limit],
    )
    eval_chunk = train.make_eval_fn(train.make_model(config))
    train_metrics = train.evaluate_split(eval_chunk, result["params"], subset)
    history = result["history"]
    reached = [h for h in history if h["val_exact_accuracy"] >= 0.99]
    return {
        "name": name,
        "config": config.to_dict(),
        "history": history,
        "epochs_run": result["epochs_run"],
        "epochs_to_99": reached[0]["epoch"] if reached else None,
        "train_sec_to_99": reached[0]["elapsed_sec"] if reached else None,
        "wall_sec": wall,
        "compile_sec": result["compile_sec"],
        "data_sec": result["data_sec"],
        "val_exact_accuracy": result["val_exact_accuracy"],
        "val_char_accuracy": result["val_char_accuracy"],
        "train_exact_accuracy": train_metrics["exact_accuracy"],
        "train_rows_scored": len(subset),
        "examples_per_sec": statistics.median(
            h["train_examples_per_sec"] for h in history
        ),
        "longest_chain_accuracy": longest_chain_accuracy(config, result["params"]),
    }


def describe(config: Config) -> str:
    parts = [
        common.reversal_name(config.reverse, config.reverse_answer),
        f"batch {config.batch_size}",
        f"Adam {config.learning_rate:g} {config.lr_schedule}",
        f"<= {config.epochs} epochs",
    ]
    if config.hidden_size != 128 or config.num_layers != 1:
        parts.insert(1, f"{config.num_layers}x{config.hidden_size} LSTM")
    if config.curriculum_epochs:
        parts.append(f"curriculum {config.curriculum_epochs} epochs")
    if config.carry_fraction:
        parts.append(f"{config.carry_fraction:.0%} long carry chains")
    return ", ".join(parts)


def render(
    rows: list[dict], info: dict, out_dir: pathlib.Path, provenance: dict[str, str]
) -> None:
    def fmt(x, spec):
        return "-" if x is None else format(x, spec)

    table_rows = [
        [
            r["name"],
            r["config"]["digits"],
            f"{r['config']['training_size']:,}",
            describe(Config.from_dict(r["config"])),
            r["epochs_to_99"] or f"not in {r['epochs_run']}",
            fmt(r["train_sec_to_99"], ".1f"),
            f"{r['wall_sec']:.1f}",
            f"{r['val_exact_accuracy']:.4f}",
            f"{r['val_char_accuracy']:.4f}",
            f"{r['train_exact_accuracy']:.4f}",
            fmt(r["longest_chain_accuracy"], ".3f"),
            f"{r['examples_per_sec']:,.0f}",
        ]
        for r in rows
    ]
    header = [
        "row",
        "digits",
        "problems",
        "settings",
        "epochs to 99%",
        "train s to 99%",
        "wall s",
        "held-out exact",
        "held-out per-char",
        "train exact",
        "longest-chain exact",
        "examples/s",
    ]
    text = (
        "# The Keras example's table, reproduced with held-out exact match\n\n"
        f"{common.provenance_line(provenance)}\n\n"
        f"Machine: {common.machine_line(info)}. Made by "
        "`python experiments/reproduce_table.py`. 'train s to 99%' is training and "
        "per-epoch evaluation time up to the first epoch at >= 0.99 held-out exact "
        "match; 'wall s' adds data generation and compilation for the whole row. "
        f"Train exact is scored on the first {TRAIN_EVAL_LIMIT:,} training problems. "
        "Held-out sets are the last 10% of the unique problems.\n\n"
        + common.markdown_table(header, table_rows)
    )
    (out_dir / "table.md").write_text(text)
    common.write_json(
        out_dir / "table.json",
        {"provenance": provenance, "machine": info, "rows": rows},
    )
    draw_curves(rows, out_dir / "curves.png")


def draw_curves(rows: list[dict], path: pathlib.Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (pip install -e .[experiments]): no curves.png")
        return
    fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(13, 5))
    # tab20: more rows than the default cycle's 10 colours.
    colours = plt.get_cmap("tab20").colors
    for i, r in enumerate(rows):
        epochs = [h["epoch"] for h in r["history"]]
        seconds = [h["elapsed_sec"] for h in r["history"]]
        exact = [h["val_exact_accuracy"] for h in r["history"]]
        style = "--" if r["name"].startswith("keras") else "-"
        colour = colours[i % len(colours)]
        by_epoch.plot(epochs, exact, style, marker=".", color=colour, label=r["name"])
        by_time.plot(seconds, exact, style, marker=".", color=colour, label=r["name"])
    for ax, xlabel in ((by_epoch, "epoch"), (by_time, "training seconds")):
        ax.axhline(0.99, color="gray", lw=0.8, ls=":")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("held-out exact match")
        ax.set_ylim(0, 1.01)
        ax.grid(alpha=0.3)
    by_time.set_xscale("log")
    by_epoch.legend(fontsize=8)
    fig.suptitle("jaxadd: held-out exact match (dashed: Keras example's settings)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="", help="run only rows containing this")
    parser.add_argument("--render_only", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--out_dir", default=str(common.RESULTS))
    args = parser.parse_args()

    out_dir = pathlib.Path(args.out_dir)
    runs_dir = out_dir / "table_runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    # Of this invocation; a row run by an earlier one keeps its own.
    provenance = common.provenance()
    info = common.machine_info()
    rows = tiny_rows() if args.tiny else all_rows()
    if not args.render_only:
        for name, config in rows.items():
            if args.rows and args.rows not in name:
                continue
            print(f"{name}: {describe(config)}", flush=True)
            record = run_row(name, config)
            record["provenance"] = provenance
            record["machine"] = info
            common.write_json(runs_dir / f"{name}.json", record)
            print(
                f"  epochs to 99%: {record['epochs_to_99']}, wall "
                f"{record['wall_sec']:.1f} s, held-out exact "
                f"{record['val_exact_accuracy']:.4f}",
                flush=True,
            )
            render(_saved(runs_dir, rows), info, out_dir, provenance)
    render(_saved(runs_dir, rows), info, out_dir, provenance)
    print(f"wrote {out_dir / 'table.md'}")


def _saved(runs_dir: pathlib.Path, rows: dict[str, Config]) -> list[dict]:
    return [
        json.loads((runs_dir / f"{name}.json").read_text())
        for name in rows
        if (runs_dir / f"{name}.json").exists()
    ]


if __name__ == "__main__":
    main()
