"""What the progress reports cost: the same compiled epoch with and without them.

    python experiments/progress_cost.py          # default run and the d10 recipe
    python experiments/progress_cost.py --tiny   # seconds-long smoke run (tests)

``--progress=bar|lines`` compiles a ``jax.debug.callback`` into the epoch's scan
(about 100 reports an epoch, ``jaxadd.progress``); ``--progress=none`` compiles
none. For each setting this compiles both epoch programs for the same problems
and state, then times whole epochs alternately (``--repeats`` of each, the
median kept), so that drifts of a shared machine fall on both alike. The
reports go to a real ``EpochProgress`` in ``lines`` mode writing to memory, so
the host side (lock, bookkeeping, rate) is paid as in a run.

The 10-digit recipe (``d10``: 256-unit LSTM, batch 128) is timed on 20,000
of its problems rather than 500,000, so that an epoch takes seconds, not
minutes: a step costs the same, and the epoch reports every 35 steps, as a
whole 10-digit epoch (3,515 steps) does.

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


def time_epochs(config: Config, every: int | None, repeats: int) -> dict:
    """Median epoch seconds without and with the reports, alternated."""
    mesh = train.make_mesh()
    split, _ = train.make_splits(config)
    queries = train.replicate(split.queries, mesh)
    answers = train.replicate(split.answers, mesh)
    shown = progress.EpochProgress("lines", stream=io.StringIO())
    programs, states = {}, {}
    for name, on_step in (("none", None), ("reports", shown.update)):
        state = train.replicate(train.create_train_state(config), mesh)
        key = train.epoch_key(config.seed, 1)
        epoch_fn = train.make_train_epoch(mesh, config.batch_size, on_step, every)
        programs[name] = epoch_fn.lower(state, queries, answers, key).compile()
        states[name] = state
    seconds = {"none": [], "reports": []}
    for epoch in range(1, repeats + 2):  # epoch 1 of each untimed: allocation
        for name in ("none", "reports"):
            shown.start(epoch, config.steps_per_epoch, config.batch_size)
            start = time.perf_counter()
            states[name], loss = programs[name](
                states[name], queries, answers, train.epoch_key(config.seed, epoch)
            )
            float(loss)
            elapsed = time.perf_counter() - start
            shown.finish()
            if epoch > 1:
                seconds[name].append(elapsed)
    none, reports = (statistics.median(seconds[n]) for n in ("none", "reports"))
    return {
        "steps_per_epoch": config.steps_per_epoch,
        "reports_per_epoch": len(shown.reports),
        "epoch_sec_none": none,
        "epoch_sec_reports": reports,
        "cost": reports / none - 1,
        "seconds": seconds,
    }


def markdown(report: dict) -> str:
    rows = [
        [
            name,
            r["steps_per_epoch"],
            r["reports_per_epoch"],
            f"{r['epoch_sec_none']:.3f}",
            f"{r['epoch_sec_reports']:.3f}",
            f"{100 * r['cost']:+.1f}%",
        ]
        for name, r in report["settings"].items()
    ]
    header = [
        "setting",
        "steps an epoch",
        "reports an epoch",
        "epoch s, --progress=none",
        "epoch s, with reports",
        "cost",
    ]
    return (
        "# What the progress reports cost\n\n"
        f"{common.provenance_line(report['provenance'])}\n\n"
        f"Median of {report['repeats']} epochs each, alternated, after one "
        "untimed epoch of each program. The issue's bound: under 2%.\n\n"
        + common.markdown_table(header, rows)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
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
        report["settings"][name] = time_epochs(config, every, repeats)
        r = report["settings"][name]
        print(f"{name}: {100 * r['cost']:+.1f}%", flush=True)
    out = pathlib.Path(args.out)
    common.write_json(out.with_suffix(".json"), report)
    out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {out}.json and {out}.md")


if __name__ == "__main__":
    main()
