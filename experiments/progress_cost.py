"""What the progress reports cost: the same compiled epoch with and without them.

    python experiments/progress_cost.py          # default run and the d10 recipe
    python experiments/progress_cost.py --tiny   # seconds-long smoke run (tests)

``--progress=bar|lines`` compiles an ``io_callback`` into the epoch's scan
(``train.scan_steps``); ``--progress=none`` compiles none. The host answers
each report with the step of the next one, about ``progress.REPORT_INTERVAL_SEC``
on at the speed measured so far in the epoch (``EpochProgress.update``). For
each setting this compiles the programs for the same problems and state, then
times whole epochs of three variants in turn (``--repeats`` of each), so that
drifts of a shared machine fall on all alike:

- ``none``: no reports compiled;
- ``reports``: the rule of a run (a real ``EpochProgress`` in ``lines`` mode
  writing to memory, so the host side, lock, bookkeeping and rate, is paid as
  in a run);
- ``every step``: the same callback asked back after every step, the price of
  one report times the steps: what the rule saves.

A variant's cost is the median ratio of its epochs to the ``none`` epochs run
just before. The 10-digit recipe (``d10``: 256-unit LSTM, batch 128) is timed
on 20,000 of its problems rather than 500,000, so that an epoch takes seconds,
not minutes: a step costs the same, and the rule reports as often per second.

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

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import common  # noqa: E402
from jaxadd import configs, progress, train  # noqa: E402
from jaxadd.config import Config  # noqa: E402

VARIANTS = ("none", "reports", "every step")
D10 = configs.get("d10")
SETTINGS = {
    "default (3 digits)": configs.get("default"),
    "d10 (10 digits), 20,000 problems": dataclasses.replace(
        D10, training_size=20_000, curriculum_epochs=0
    ),
}
TINY = {"tiny": configs.get("tiny")}


def time_epochs(config: Config, repeats: int) -> dict:
    """Epoch seconds of each variant (module docstring), alternated."""
    mesh = train.make_mesh()
    split, _ = train.make_splits(config)
    queries = train.replicate(split.queries, mesh)
    answers = train.replicate(split.answers, mesh)
    steps = config.steps_per_epoch
    shown = progress.EpochProgress("lines", stream=io.StringIO())

    def every_step(step, loss):
        shown.update(step, loss)
        return int(step) + 1

    key = train.epoch_key(config.seed, 1)
    initial = train.create_train_state(config)  # one apply_fn and tx for all
    states = {name: train.replicate(initial, mesh) for name in VARIANTS}
    callbacks = {"none": None, "reports": shown.update, "every step": every_step}
    programs = {
        name: train.make_train_epoch(mesh, config.batch_size, on_step)
        .lower(states[name], queries, answers, key)
        .compile()
        for name, on_step in callbacks.items()
    }
    seconds = {name: [] for name in VARIANTS}
    reports = {}
    for epoch in range(1, repeats + 2):  # epoch 1 of each untimed: allocation
        for name in VARIANTS:
            shown.start(epoch, steps, config.batch_size)
            start = time.perf_counter()
            states[name], loss = programs[name](
                states[name], queries, answers, train.epoch_key(config.seed, epoch)
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
    for name in VARIANTS[1:]:
        # Each pair ran back to back: their ratio cancels the machine's drift.
        ratios = sorted(r / n for r, n in zip(seconds[name], seconds["none"]))
        result[name] = {
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
        for rule in VARIANTS[1:]:
            x = r[rule]
            rows.append(
                [
                    name,
                    rule,
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
        "variant",
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
        "ratio, less 1, so that the shared machine's drift cancels. `reports`: "
        "the rule of a run, the first step and then about every "
        f"{progress.REPORT_INTERVAL_SEC} s at the speed measured so far in the "
        "epoch; `every step`: a report after every step, the price the rule "
        "saves. The issue's bound: under 2%.\n\n" + common.markdown_table(header, rows)
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
    for name, config in settings.items():
        r = report["settings"][name] = time_epochs(config, repeats)
        costs = ", ".join(
            f"{rule} {100 * r[rule]['cost']:+.1f}%" for rule in VARIANTS[1:]
        )
        print(f"{name}: {costs}", flush=True)
    out = pathlib.Path(args.out)
    common.write_json(out.with_suffix(".json"), report)
    out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {out}.json and {out}.md")


if __name__ == "__main__":
    main()
