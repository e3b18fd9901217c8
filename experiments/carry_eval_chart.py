"""Bar chart of exact-match accuracy by longest carry chain, one bar per run.

Reads the ``evaluation.json`` files that ``python -m jaxadd.evaluate`` writes::

    python experiments/carry_eval_chart.py runs/add3/evaluation.json \
        runs/add5/evaluation.json --out=experiments/results/carry_chain.png

Bars are grouped by chain length ``0..max digits``; a run with fewer digits has
no bar past its own. The legend gives each run's uniform-operand accuracy, so
the gap the chart exists to show is visible at a glance.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import common  # noqa: E402

DEFAULT_OUT = os.path.join(os.path.dirname(__file__), "results", "carry_chain.png")


def run_label(report: dict) -> str:
    """A short name for a run: digits and which sequences are reversed."""
    config = report["config"]
    order = common.reversal_name(config["reverse"], config.get("reverse_answer", False))
    return f"{report['digits']} digits, {order}"


def draw_chart(reports: list[dict], labels: list[str], out: str) -> None:
    """Writes the grouped bar chart of ``reports`` to the PNG ``out``."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a training machine
    import matplotlib.pyplot as plt

    max_chain = max(report["digits"] for report in reports)
    width = 0.8 / len(reports)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * (max_chain + 1) + 3), 4.0))
    for i, (report, label) in enumerate(zip(reports, labels)):
        rows = [r for r in report["carry_chain"] if r["accuracy"] is not None]
        xs = [r["chain"] + (i - (len(reports) - 1) / 2) * width for r in rows]
        uniform = report["uniform"]["accuracy"]
        name = label if uniform is None else f"{label} (uniform {100 * uniform:.1f}%)"
        ax.bar(xs, [100 * r["accuracy"] for r in rows], width, label=name)
    ax.set_xticks(range(max_chain + 1))
    ax.set_xlabel("longest carry chain (consecutive carrying columns)")
    ax.set_ylabel("exact match (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Held-out exact match by longest carry chain")
    # Below the axes: inside, it would hide the bars it names.
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("evaluations", nargs="+", help="evaluation.json files")
    parser.add_argument(
        "--labels", help="comma-separated legend names, one per file (default: auto)"
    )
    parser.add_argument("--out", default=DEFAULT_OUT, help="PNG to write")
    args = parser.parse_args(argv)
    reports = []
    for path in args.evaluations:
        try:
            with open(path) as f:
                report = json.load(f)
            report["carry_chain"], report["digits"], report["config"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            print(
                f"carry_eval_chart: error: cannot read {path}: {err}", file=sys.stderr
            )
            return 1
        reports.append(report)
    labels = [run_label(report) for report in reports]
    if args.labels:
        labels = args.labels.split(",")
        if len(labels) != len(reports):
            print(
                f"carry_eval_chart: error: {len(labels)} labels for "
                f"{len(reports)} files",
                file=sys.stderr,
            )
            return 1
    draw_chart(reports, labels, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
