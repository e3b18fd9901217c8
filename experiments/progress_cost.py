"""What the progress reports cost: the same compiled epoch with and without them.

    python experiments/progress_cost.py          # default run and the d10 recipe
    python experiments/progress_cost.py --tiny   # seconds-long smoke run (tests)

``--progress=bar|lines`` compiles a ``jax.debug.callback`` into the epoch's scan
(``jaxadd.progress``); ``--progress=none`` compiles none. The number of steps
between reports is an argument of the compiled epoch: about 100 reports in a
run's first epoch, then about one every ``progress.REPORT_INTERVAL_SEC`` from
the speed measured. For each setting this compiles both programs for the same
problems and state, then times whole epochs of ``none``, the first rule and
the later rule in turn (``--repeats`` of each), so that drifts of a shared
machine fall on all alike; a rule's cost is the median ratio of its epochs to
the ``none`` epochs run just before. The reports go to a real
``EpochProgress`` in ``lines`` mode writing to memory, so the host side
(lock, bookkeeping, rate) is paid as in a run.

The 10-digit recipe (``d10``: 256-unit LSTM, batch 128) is timed on 20,000
of its problems rather than 500,000, so that an epoch takes seconds, not
minutes: a step costs the same, and its first rule reports every 35 steps,
as a whole 10-digit epoch (3,515 steps) does.

Writes ``results/progress_cost.json`` and ``results/progress_cost.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import pathlib
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import common  # noqa: E402
from jaxadd import configs, progress, train  # noqa: E402
from jaxadd.config import Config  # noqa: E402

VARIANTS = ("none", "first", "later")
D10 = configs.get("d10")
# setting: (config, steps between two reports)
SETTINGS = {
    "default (3 digits)": (configs.get("default"), None),
    "d10 (10 digits), 20,000 problems": (
        dataclasses.replace(D10, training_size=20_000, curriculum_epochs=0),
        progress.report_every(D10.steps_per_epoch),
    ),
}
TINY = {"tiny": (configs.get("tiny"), None)}


def time_epochs(config: Config, first_every: int | None, repeats: int) -> dict:
    """Epoch seconds without reports and with each rule's, alternated.

    ``first``: the first epoch's rule, one report every ``first_every`` steps
    (``progress.report_every`` if ``None``: about 100 an epoch). ``later``:
    the later epochs' rule, ``EpochProgress.steps_between_reports`` after an
    epoch (about one every ``progress.REPORT_INTERVAL_SEC``).
    """
    mesh = train.make_mesh()
    split, _ = train.make_splits(config)
    queries = train.replicate(split.queries, mesh)
    answers = train.replicate(split.answers, mesh)
    steps = config.steps_per_epoch
    shown = progress.EpochProgress("lines", stream=io.StringIO())
    key = train.epoch_key(config.seed, 1)
    initial = train.create_train_state(config)  # one apply_fn and tx for all
    states = {name: train.replicate(initial, mesh) for name in VARIANTS}
    plain = train.make_train_epoch(mesh, config.batch_size)
    reporting = train.make_train_epoch(mesh, config.batch_size, shown.update)
    programs = {
        "none": plain.lower(states["none"], queries, answers, key).compile(),
        "reports": reporting.lower(
            states["none"], queries, answers, key, np.int32(1)
        ).compile(),
    }
    every = {"first": first_every or progress.report_every(steps), "later": None}
    seconds = {name: [] for name in VARIANTS}
    reports = {}
    for epoch in range(1, repeats + 2):  # epoch 1 of each untimed: allocation
        for name in VARIANTS:
            extra = ()
            if name != "none":
                if every[name] is None:  # "later": set by the epoch before
                    every[name] = shown.steps_between_reports(steps)
                extra = (np.int32(every[name]),)
            shown.start(epoch, steps, config.batch_size)
            program = programs["none" if name == "none" else "reports"]
            start = time.perf_counter()
            states[name], loss = program(
                states[name],
                queries,
                answers,
                train.epoch_key(config.seed, epoch),
                *extra,
            )
            float(loss)
            elapsed = time.perf_counter() - start
            shown.finish()
            reports[name] = len(shown.reports)
            if epoch > 1:
                seconds[name].append(elapsed)
    result = {
        "steps_per_epoch": steps,
        "epoch_sec_none": statistics.median(seconds["none"]),
        "seconds": seconds,
    }
    for name in ("first", "later"):
        # Each pair ran back to back: their ratio cancels the machine's drift.
        ratios = sorted(r / n for r, n in zip(seconds[name], seconds["none"]))
        result[name] = {
            "steps_between_reports": every[name],
            "reports_per_epoch": reports[name],
            "epoch_sec": statistics.median(seconds[name]),
            "cost": statistics.median(ratios) - 1,
            "cost_quartiles": [
                ratios[len(ratios) // 4] - 1,
                ratios[-1 - len(ratios) // 4] - 1,
            ],
        }
    return result


def markdown(report: dict) -> str:
    rows = []
    for name, r in report["settings"].items():
        for rule, label in (("first", "first epoch"), ("later", "later epochs")):
            x = r[rule]
            rows.append(
                [
                    name,
                    label,
                    r["steps_per_epoch"],
                    x["reports_per_epoch"],
                    f"{r['epoch_sec_none']:.3f}",
                    f"{x['epoch_sec']:.3f}",
                    f"{100 * x['cost']:+.1f}%",
                    " to ".join(f"{100 * q:+.1f}%" for q in x["cost_quartiles"]),
                ]
            )
    header = [
        "setting",
        "rule",
        "steps an epoch",
        "reports an epoch",
        "epoch s, --progress=none",
        "epoch s, with reports",
        "cost (median pair)",
        "quartiles of the pairs",
    ]
    return (
        "# What the progress reports cost\n\n"
        f"{common.provenance_line(report['provenance'])}\n\n"
        f"{report['repeats']} epochs of each program, alternated, after one "
        "untimed epoch of each; epoch seconds are medians; the cost is the "
        "median over the pairs (one epoch of each, back to back) of their "
        "ratio, less 1, so that the shared machine's drift cancels. The first "
        "epoch of a run reports about 100 times; later ones about every "
        f"{progress.REPORT_INTERVAL_SEC} s, from the speed measured. The "
        "issue's bound: under 2%.\n\n" + common.markdown_table(header, rows)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--out", default=str(common.RESULTS / "progress_cost"))
    args = parser.parse_args(argv)
    settings, repeats = (TINY, 2) if args.tiny else (SETTINGS, args.repeats)
    report = {
        "provenance": common.provenance(None if argv is None else [__file__, *argv]),
        "repeats": repeats,
        "settings": {},
    }
    for name, (config, every) in settings.items():
        r = report["settings"][name] = time_epochs(config, every, repeats)
        costs = ", ".join(
            f"{rule} {100 * r[rule]['cost']:+.1f}%" for rule in ("first", "later")
        )
        print(f"{name}: {costs}", flush=True)
    out = pathlib.Path(args.out)
    common.write_json(out.with_suffix(".json"), report)
    out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {out}.json and {out}.md")


if __name__ == "__main__":
    main()
