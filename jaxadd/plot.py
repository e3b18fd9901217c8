"""Curves of training runs, from their ``metrics.jsonl``, as one PNG.

    python -m jaxadd.plot runs/add3 runs/add4 [--out=curves.png]

draws eight panels: held-out, uniform and longest-chain exact match and the
losses, against epoch (top row) and against seconds of training (bottom row),
one line per run. A workdir whose own ``metrics.jsonl`` is missing but whose
subdirectories hold runs (``DIR/seed_0``, ``DIR/seed_1``, ...) stands for each
of those. Epochs written before a metric existed leave that run out of its
panel. It only reads the workdirs, so it may run while they train.

Needs matplotlib (``pip install -e '.[plot]'``). Every fault (no matplotlib, a
workdir with no run, a damaged ``metrics.jsonl``, an output that cannot be
written) is one line on stderr, ``jaxadd.plot: error: ...``, and exit code 1;
the PNG is written whole or not at all.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence

from jaxadd import cli

PROG = "jaxadd.plot"
DEFAULT_OUT = "curves.png"

# (metric key, panel title); the losses share one panel, training solid.
_PANELS = (
    ("val_exact_accuracy", "held-out exact match"),
    ("uniform_exact_accuracy", "uniform exact match"),
    ("longest_chain_exact_accuracy", "longest-chain exact match"),
    ("train_loss", "loss (training solid, held-out dashed)"),
)


# Exact match 0 and 1 have no place on a logit axis: drawn at these limits.
_ACCURACY_FLOOR = 1e-3
_ACCURACY_TICKS = (0.01, 0.1, 0.5, 0.9, 0.99, 0.999)


class PlotError(Exception):
    """A workdir that cannot be plotted; its message is the line to print."""


def find_runs(workdirs: Sequence[str]) -> list[tuple[str, str]]:
    """``(label, path of metrics.jsonl)`` for each run the workdirs hold.

    A workdir with ``metrics.jsonl`` is one run, labelled with its path as
    given; one without it stands for its subdirectories that have one, in name
    order, each labelled ``DIR/NAME``.

    Raises:
      PlotError: a workdir that is missing, or that holds no run.
    """
    runs = []
    for workdir in workdirs:
        if not os.path.isdir(workdir):
            raise PlotError(f"{workdir} is not a directory")
        own = os.path.join(workdir, "metrics.jsonl")
        if os.path.isfile(own):
            runs.append((workdir, own))
            continue
        inner = sorted(
            name
            for name in os.listdir(workdir)
            if os.path.isfile(os.path.join(workdir, name, "metrics.jsonl"))
        )
        if not inner:
            raise PlotError(
                f"{workdir} holds no metrics.jsonl, nor do its subdirectories"
            )
        runs += [
            (os.path.join(workdir, name), os.path.join(workdir, name, "metrics.jsonl"))
            for name in inner
        ]
    return runs


def read_metrics(path: str) -> list[dict]:
    """The epochs of one ``metrics.jsonl``, in order.

    Raises:
      PlotError: the file cannot be read, a line is not a JSON object with an
        ``epoch``, or it has no epoch at all.
    """
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise PlotError(f"cannot read {path}: {err.strerror or err}") from None
    epochs = []
    for number, line in enumerate(lines, 1):
        try:
            metrics = json.loads(line)
        except json.JSONDecodeError:
            raise PlotError(f"{path} line {number} is not JSON") from None
        if not isinstance(metrics, dict) or "epoch" not in metrics:
            raise PlotError(f"{path} line {number} is not an epoch's metrics")
        epochs.append(metrics)
    if not epochs:
        raise PlotError(f"{path} has no finished epoch yet")
    return epochs


def draw(runs: list[tuple[str, list[dict]]], out: str) -> None:
    """Draws the panels for ``(label, epochs)`` of each run into the PNG ``out``.

    Through ``cli.write_atomically``: ``out`` is the new picture whole, or the
    old file.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display is needed or wanted
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(2, len(_PANELS), figsize=(4 * len(_PANELS), 7))
    for row, (x_key, x_label) in enumerate(
        (("epoch", "epoch"), ("elapsed_sec", "seconds"))
    ):
        for column, (key, title) in enumerate(_PANELS):
            ax = axes[row, column]
            for index, (label, epochs) in enumerate(runs):
                color = f"C{index % 10}"
                _line(ax, epochs, x_key, key, color, "-", label)
                if key == "train_loss":
                    _line(ax, epochs, x_key, "val_loss", color, "--", None)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(x_label)
            if x_key == "epoch":
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if key == "train_loss":
                ax.set_yscale("log")
            else:
                # 99% against 99.9% is the difference that matters here: a
                # logit axis spreads both ends, where a linear one shows a wall.
                ax.set_yscale("logit", nonpositive="clip")
                ax.set_ylim(_ACCURACY_FLOOR, 1 - _ACCURACY_FLOOR / 10)
                ax.set_yticks(_ACCURACY_TICKS)
                ax.set_yticklabels([f"{100 * t:g}%" for t in _ACCURACY_TICKS])
                ax.minorticks_off()
    axes[0, 0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    cli.write_atomically(out, png.getvalue())


def _line(ax, epochs: list[dict], x_key: str, key: str, color, style, label) -> None:
    """One run's curve of ``key``; epochs without it (older runs) are skipped."""
    points = [
        (m[x_key], m[key])
        for m in epochs
        if m.get(key) is not None and m.get(x_key) is not None
    ]
    if key.endswith("_accuracy"):
        top = 1 - _ACCURACY_FLOOR / 10
        points = [(x, min(max(y, _ACCURACY_FLOOR), top)) for x, y in points]
    if points:
        xs, ys = zip(*points)
        ax.plot(xs, ys, color=color, linestyle=style, marker=".", label=label)


def main(argv: list[str]) -> None:
    """Plots the workdirs of ``argv[1:]`` into ``--out``."""
    from absl import flags

    workdirs = argv[1:]
    out = flags.FLAGS.out
    if not workdirs:
        cli.fail(PROG, "name at least one workdir: python -m jaxadd.plot DIR [DIR ...]")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        cli.fail(PROG, "matplotlib is not installed: pip install -e '.[plot]'")
    try:
        runs = [(label, read_metrics(path)) for label, path in find_runs(workdirs)]
    except PlotError as err:
        cli.fail(PROG, str(err))
    try:
        draw(runs, out)
    except OSError as err:
        cli.fail(PROG, f"cannot write {out}: {err.strerror or cli.first_line(err)}")
    cli.write_line(f"wrote {out}: {len(runs)} run(s)")
    cli.finish(0)


def _define_flags() -> None:
    # Only when run as a program: importing this module adds no global flags.
    from absl import flags

    flags.DEFINE_string("out", DEFAULT_OUT, "The PNG to write.")


if __name__ == "__main__":
    cli.open_std_streams()
    cli.exit_on_signals(PROG, lambda: "nothing written")
    from absl import app

    _define_flags()
    app.run(main, flags_parser=cli.guard_help_output(PROG, cli.flags_parser(PROG)))
