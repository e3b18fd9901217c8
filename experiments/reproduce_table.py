"""Reproduces the Keras example's results table over seeds, on full-length problems.

    python experiments/reproduce_table.py                  # every row, seeds 0..2
    python experiments/reproduce_table.py --rows=best,d2   # rows whose name has one
    python experiments/reproduce_table.py --render_only    # redraw from saved runs
    python experiments/reproduce_table.py --tiny           # seconds-long smoke run

The Keras example claims 99% (per-character, padding included) for 2 to 5 digits,
reversed, one 128-unit LSTM: 2 digits / 5k examples / 55 epochs, 3 / 50k / 100,
4 / 400k / 20, 5 / 550k / 30. Each row here trains ``--num_seeds`` seeds (3 by
default) as one ``--num_seeds`` program, each seed until its held-out **exact
match** reaches 0.99 or the row's epoch budget runs out (the Keras example's
rule; a seed that gets there is frozen while the others go on), with the Keras
example's settings (answer as written, batch 32, Adam 1e-3, at most its epochs)
and with jaxadd's own settings; plus runs with neither query nor answer
reversed for 2 and 3 digits, the ablation that motivates reversal, and
``sched-d2``: its 2-digit row with only the learning-rate schedule changed.

Every seed's final parameters are then scored on problems none of which it
trained on: uniform-10k (10,000 problems with operands uniform in
``[0, 10**digits)`` and the edge cases) and 1,000 problems whose carry runs
through every column, because the held-out split's operands are mostly short.

Each finished row is saved to ``results/table_seed_runs/<name>.json`` at once,
so a long session can be split over several invocations; with ``--workdir=DIR``
each row also checkpoints every epoch to ``DIR/<name>/seed_K/`` and prints its
epochs, so a row longer than a session (``best-d10``, about two hours on a
2-core CPU) resumes where a killed invocation left it; the table
(``results/table.md`` and ``table.json``) and ``results/curves.png`` are redrawn
from every saved row after each one. ``results/table_one_seed.*`` is the table
this script made before, one seed per row.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import re
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import common  # noqa: E402
from jaxadd import data, devices, seeds, train  # noqa: E402
from jaxadd.config import KERAS_TRAINING, Config  # noqa: E402

RUNS_DIR = "table_seed_runs"
NUM_SEEDS = 3
TRAIN_EVAL_LIMIT = 50_000

SEED_ROWS = {2: (5_000, 55), 3: (50_000, 100), 4: (400_000, 20), 5: (550_000, 30)}


# jaxadd's own settings per row: those the recipes of ``jaxadd.configs`` had
# when results/table.md was made (the 3-digit default, ``d2``, ``d4`` and
# ``d5`` have since changed, to the settings results/digits_defaults.md
# measures on full-length problems, and ``d10`` to a peak rate of 3e-3; and
# ``TABLE_MODEL`` keeps the width and rate the rows had then). The
# cosine schedule decays over exactly ``epochs``, so the budget is part of the
# settings, not only a cap. Every row stops on the held-out split alone
# (``target_on="held_out"``): the Keras example's rule, which this table
# reproduces. Past the Keras example's table, best-d10 is the recipe
# experiments/long_addition.py found for 10 digits within an hour of CPU
# training, as it was before its peak rate came down to 3e-3.
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
# The width and rate every row had when the table was made; the 3-digit
# default has since moved to width 96 and Adam 2e-2 (results/digits_defaults.md).
TABLE_MODEL = {"hidden_size": 128, "learning_rate": 1e-2}


def best_settings(digits: int, training_size: int) -> Config:
    """The table's settings for ``digits``, its problem count and its target."""
    return Config(
        digits=digits,
        training_size=training_size,
        target_accuracy=0.99,
        target_on="held_out",
        num_samples=0,
        **{**TABLE_MODEL, **BEST[digits]},
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


def train_exact_accuracy(config: Config, eval_chunk, params) -> float:
    """Exact match on the first ``TRAIN_EVAL_LIMIT`` training problems."""
    train_split, _ = train.make_splits(config)
    limit = slice(0, TRAIN_EVAL_LIMIT)
    subset = data.Split(
        a=train_split.a[limit],
        b=train_split.b[limit],
        queries=train_split.queries[limit],
        answers=train_split.answers[limit],
    )
    return train.evaluate_split(eval_chunk, params, subset)["exact_accuracy"]


def run_row(
    name: str,
    config: Config,
    num_seeds: int,
    first_seed: int,
    workdir: pathlib.Path | None = None,
) -> dict:
    """Trains ``num_seeds`` seeds of ``config`` in one program and scores each.

    With ``workdir``, the seeds checkpoint to ``workdir/name`` and resume from
    it; ``resumed_after_epoch`` then says where this invocation began, and
    ``wall_sec`` counts only this invocation's time.
    """
    sweep = dataclasses.replace(config, seed=first_seed, num_seeds=num_seeds)
    resumed: list[int] = []

    def log(line: str) -> None:
        found = re.match(r"seed \d+: resumed after epoch (\d+)", line)
        if found:
            resumed.append(int(found.group(1)))
        if workdir is not None:
            print(f"  {line}", flush=True)

    start = time.perf_counter()
    result = seeds.train_and_evaluate(
        sweep, workdir=None if workdir is None else str(workdir / name), log=log
    )
    wall = time.perf_counter() - start
    eval_chunk = train.make_eval_fn(train.make_model(config))
    per_seed = []
    for seed_config, seed_result in zip(seeds.seed_configs(sweep), result["seeds"]):
        history = seed_result["history"]
        reached = [h for h in history if h["val_exact_accuracy"] >= 0.99]
        params = seed_result["params"]
        per_seed.append(
            {
                "seed": seed_config.seed,
                "status": seed_result["status"],
                "history": history,
                "epochs_run": seed_result["epochs_run"],
                "epochs_to_99": reached[0]["epoch"] if reached else None,
                "train_sec_to_99": reached[0]["elapsed_sec"] if reached else None,
                "val_exact_accuracy": seed_result["val_exact_accuracy"],
                "val_char_accuracy": seed_result["val_char_accuracy"],
                "train_exact_accuracy": train_exact_accuracy(
                    seed_config, eval_chunk, params
                ),
                **common.full_length_scores(seed_config, params),
            }
        )
    return {
        "name": name,
        "config": config.to_dict(),
        "num_seeds": num_seeds,
        "first_seed": first_seed,
        "wall_sec": wall,
        "resumed_after_epoch": min(resumed) if resumed else None,
        "compile_sec": result["compile_sec"],
        "data_sec": result["data_sec"],
        "seeds": per_seed,
    }


# What the table reports over seeds: (name, how to read it from a seed's record).
OVER_SEEDS = {
    "held-out": lambda s: s["val_exact_accuracy"],
    "uniform-10k": lambda s: s["uniform_10k"]["accuracy"],
    "longest chain": lambda s: s["longest_chain"]["accuracy"],
}


def over_seeds(row: dict) -> dict:
    """Mean and min over the row's seeds of each exact match, and counts."""
    summary = {}
    for name, read in OVER_SEEDS.items():
        values = [read(s) for s in row["seeds"] if read(s) is not None]
        summary[name] = (
            {"mean": statistics.mean(values), "min": min(values)} if values else None
        )
    summary["reached_99_held_out"] = sum(
        s["epochs_to_99"] is not None for s in row["seeds"]
    )
    summary["at_99_uniform"] = sum(
        (s["uniform_10k"]["accuracy"] or 0.0) >= 0.99 for s in row["seeds"]
    )
    return summary


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
    rows: list[dict],
    missing: list[str],
    info: dict,
    out_dir: pathlib.Path,
    provenance: dict[str, str],
) -> None:
    def mean_min(stats):
        if stats is None:
            return "-"
        return f"{100 * stats['mean']:.2f} / {100 * stats['min']:.2f}"

    table_rows = []
    for r in rows:
        summary = over_seeds(r)
        n = r["num_seeds"]
        epochs = ", ".join(str(s["epochs_to_99"] or "-") for s in r["seeds"])
        per_seed_rate = statistics.median(
            h["train_examples_per_sec"] for s in r["seeds"] for h in s["history"]
        )
        table_rows.append(
            [
                r["name"],
                r["config"]["digits"],
                f"{r['config']['training_size']:,}",
                describe(Config.from_dict(r["config"])),
                f"{summary['reached_99_held_out']} of {n} ({epochs})",
                wall_text(r),
                mean_min(summary["held-out"]),
                mean_min(summary["uniform-10k"]),
                mean_min(summary["longest chain"]),
                f"{summary['at_99_uniform']} of {n}",
                ", ".join(
                    f"{s['edge_cases']['correct']}/{s['edge_cases']['n']}"
                    for s in r["seeds"]
                ),
                f"{per_seed_rate:,.0f}",
            ]
        )
    header = [
        "row",
        "digits",
        "problems",
        "settings",
        "seeds at 99% held-out (epoch per seed)",
        "wall s, all seeds",
        "held-out exact mean / min %",
        "uniform-10k mean / min %",
        "longest chain mean / min %",
        "seeds at 99% uniform",
        "edge cases right per seed",
        "examples/s per seed",
    ]
    seeds_text = ", ".join(
        sorted(
            {f"{r['first_seed']}..{r['first_seed'] + r['num_seeds'] - 1}" for r in rows}
        )
    )
    text = (
        "# The Keras example's table over seeds, scored on full-length problems\n\n"
        f"{common.provenance_line(provenance)}\n\n" + rows_provenance(rows) + "Made by "
        "`python experiments/reproduce_table.py`. Each row trains seeds "
        f"{seeds_text or '-'} as one `--num_seeds` program, each seed until its "
        "held-out exact match reaches 99% (then frozen) or the epochs run out; "
        "'wall s' is the whole program's, data and compilation included. "
        "Held-out: the last 10% of the row's unique problems, drawn as its "
        "training problems are (operands mostly short). Uniform-10k: 10,000 "
        "problems with operands uniform in [0, 10^digits), suite seed 0, none "
        "trained on (fewer where fewer exist); its edge cases are counted apart. "
        f"Longest chain: {common.LONGEST_CHAIN_SIZE:,} problems whose carry runs "
        "through every column. Exact = the whole answer right.\n\n"
        + common.markdown_table(header, table_rows)
    )
    if missing:
        text += (
            "\nNot yet run over seeds: "
            + ", ".join(f"`{name}`" for name in missing)
            + " (one seed each: `table_one_seed.md`).\n"
        )
    (out_dir / "table.md").write_text(text)
    common.write_json(
        out_dir / "table.json",
        {
            "provenance": provenance,
            "machine": info,
            "rows": [r | {"over_seeds": over_seeds(r)} for r in rows],
            "missing": missing,
        },
    )
    draw_curves(rows, out_dir / "curves.png")


def wall_text(row: dict) -> str:
    """The row's wall time, marked where the run resumed from a checkpoint."""
    resumed = row.get("resumed_after_epoch")
    wall = f"{row['wall_sec']:.1f}"
    return wall if resumed is None else f"{wall} (after resuming at epoch {resumed})"


def rows_provenance(rows: list[dict]) -> str:
    """Where each row ran: rows come from separate invocations, maybe machines.

    One Markdown bullet per provenance (commit, date, command, machine) naming
    its rows; the header's line is only that of the invocation that drew the
    table.
    """
    groups: dict[str, list[str]] = {}
    for r in rows:
        line = common.provenance_line(r["provenance"]).removeprefix("Provenance: ")
        groups.setdefault(line, []).append(f"`{r['name']}`")
    bullets = [f"- {', '.join(names)}: {line}" for line, names in groups.items()]
    return "Rows, by the run that made them:\n\n" + "\n".join(bullets) + "\n\n"


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
        style = "--" if r["name"].startswith("keras") else "-"
        colour = colours[i % len(colours)]
        for k, s in enumerate(r["seeds"]):
            epochs = [h["epoch"] for h in s["history"]]
            seconds = [h["elapsed_sec"] for h in s["history"]]
            exact = [h["val_exact_accuracy"] for h in s["history"]]
            label = r["name"] if k == 0 else None
            for ax, x in ((by_epoch, epochs), (by_time, seconds)):
                ax.plot(x, exact, style, marker=".", color=colour, lw=1, label=label)
    for ax, xlabel in ((by_epoch, "epoch"), (by_time, "seconds (all seeds)")):
        ax.axhline(0.99, color="gray", lw=0.8, ls=":")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("held-out exact match")
        ax.set_ylim(0, 1.01)
        ax.grid(alpha=0.3)
    by_time.set_xscale("log")
    by_epoch.legend(fontsize=8)
    fig.suptitle(
        "jaxadd: held-out exact match, a line per seed "
        "(dashed: Keras example's settings)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", default="", help="run only rows whose name contains one of these"
    )
    parser.add_argument("--num_seeds", type=int, default=NUM_SEEDS)
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument("--render_only", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--out_dir", default=str(common.RESULTS))
    parser.add_argument(
        "--workdir",
        default="",
        help="checkpoint each row to WORKDIR/<row> and resume it from there",
    )
    args = parser.parse_args()

    rows = tiny_rows() if args.tiny else all_rows()
    # As jaxadd.main does for --num_seeds: on a CPU, a device per seed (before
    # anything touches the backend). Rows run before commit d50f587 had one
    # device for all seeds; each row's provenance line gives its device count.
    smallest_batch = min(config.batch_size for config in rows.values())
    error = devices.split_cpu(
        devices.cpu_devices_for(None, args.num_seeds, smallest_batch, False),
        smallest_batch,
    )
    if error:
        parser.error(error)
    out_dir = pathlib.Path(args.out_dir)
    runs_dir = out_dir / RUNS_DIR
    runs_dir.mkdir(parents=True, exist_ok=True)
    # Of this invocation; a row run by an earlier one keeps its own.
    provenance = common.provenance()
    info = common.machine_info()

    def redraw() -> None:
        saved = _saved(runs_dir, rows)
        missing = [name for name in rows if name not in {r["name"] for r in saved}]
        render(saved, missing, info, out_dir, provenance)

    wanted = [part for part in args.rows.split(",") if part]
    workdir = pathlib.Path(args.workdir) if args.workdir else None
    if not args.render_only:
        for name, config in rows.items():
            if wanted and not any(part in name for part in wanted):
                continue
            print(f"{name}: {describe(config)}", flush=True)
            record = run_row(name, config, args.num_seeds, args.seed, workdir)
            record["provenance"] = provenance
            record["machine"] = info
            common.write_json(runs_dir / f"{name}.json", record)
            summary = over_seeds(record)
            print(
                f"  {summary['reached_99_held_out']} of {args.num_seeds} seeds at "
                f"99% held-out, wall {record['wall_sec']:.1f} s, uniform-10k mean "
                f"{100 * summary['uniform-10k']['mean']:.2f}%",
                flush=True,
            )
            redraw()
    redraw()
    print(f"wrote {out_dir / 'table.md'}")


def _saved(runs_dir: pathlib.Path, rows: dict[str, Config]) -> list[dict]:
    return [
        json.loads((runs_dir / f"{name}.json").read_text())
        for name in rows
        if (runs_dir / f"{name}.json").exists()
    ]


if __name__ == "__main__":
    main()
