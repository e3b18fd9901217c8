"""Exact match on families of problems shaped like the edge cases, per trained run.

The edge cases (``jaxadd.data.edge_cases``) are single problems; a run that
fails one may fail a whole region of problems shaped like it, or only that one.
This scores five families built the same way for any ``digits`` (shown here
for 4 digits), each in both orders:

- round pairs: ``x000+y000`` for x, y in 1..9 (like ``1000+1000``);
- round pairs plus a one: ``1000+1001``, ``1000+1010``, ``1000+1100``;
- full runs: ``xxxx+yyyy`` for x, y in 1..9 (like ``9999+9999``, ``4444+5555``);
- shorter runs: the same with 1 to ``digits - 1`` digits (``999+999``, ``44+55``);
- nines into a round sum: ``1999+8001`` ... ``8999+1001`` (like ``4999+5001``).

Pairs the run trained on are left out, as the evaluation suites leave them::

    python experiments/edge_neighbours.py runs/add10/seed0 runs/add10/seed2 \\
        --stem=edge_neighbours_d10

writes ``results/<stem>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments import common  # noqa: E402
from jaxadd import data, evaluate  # noqa: E402

SHOWN_WRONG = 12  # wrong answers listed per family and run


def families(digits: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each family's operands ``(a, b)``, every pair in both orders, no repeats."""
    top = 10 ** (digits - 1)
    repunit = (10**digits - 1) // 9
    pairs = {
        "round pairs": [(x * top, y * top) for x in range(1, 10) for y in range(x, 10)],
        "round pairs plus a one": [(top, top + 10**k) for k in range(digits - 1)],
        "full runs": [
            (x * repunit, y * repunit) for x in range(1, 10) for y in range(x, 10)
        ],
        "shorter runs": [
            (x * (10**k - 1) // 9, y * (10**k - 1) // 9)
            for k in range(1, digits)
            for x in range(1, 10)
            for y in range(x, 10)
        ],
        "nines into a round sum": [
            (x * top + top - 1, (9 - x) * top + 1) for x in range(1, 9)
        ],
    }
    out = {}
    for name, chosen in pairs.items():
        both = list(dict.fromkeys(chosen + [(b, a) for a, b in chosen]))
        a, b = np.array(both, np.int64).reshape(-1, 2).T
        out[name] = (a, b)
    return out


def score_run(workdir: str) -> dict:
    """The run's exact match on each family, with some of its wrong answers."""
    from jaxadd import checkpoint

    config, params, epoch = checkpoint.load_run(workdir)
    trained = np.unique(
        data.pair_keys(*evaluate.training_problems(config), config.digits)
    )
    scores = {}
    for name, (a, b) in families(config.digits).items():
        keep = ~np.isin(data.pair_keys(a, b, config.digits), trained)
        a, b = a[keep], b[keep]
        exact, answers = evaluate.predict_answers(config, params, a, b)
        wrong = [
            f"{x}+{y}={answer}"
            for x, y, answer, right in zip(a.tolist(), b.tolist(), answers, exact)
            if not right
        ]
        scores[name] = {
            "n": len(a),
            "correct": int(exact.sum()),
            "wrong": wrong[:SHOWN_WRONG],
        }
    return {
        "workdir": os.path.abspath(workdir),
        "digits": config.digits,
        "seed": config.seed,
        "epoch": epoch,
        "families": scores,
    }


def render(runs: list[dict], provenance: dict, machine: dict) -> str:
    names = list(runs[0]["families"])
    rows = [
        [os.path.basename(os.path.dirname(run["workdir"])), run["seed"], run["epoch"]]
        + [f"{s['correct']} of {s['n']}" for s in run["families"].values()]
        for run in runs
    ]
    lines = [
        "# Problems shaped like the edge cases",
        "",
        common.provenance_line(provenance),
        "",
        f"Machine: {common.machine_line(machine)}.",
        "",
        f"Families ({runs[0]['digits']} digits; see `edge_neighbours.py`), "
        "exact match of the whole answer, pairs the run trained on left out.",
        "",
        common.markdown_table(["run", "seed", "epoch", *names], rows),
    ]
    for run, row in zip(runs, rows):
        for name, score in run["families"].items():
            if score["wrong"]:
                shown = ", ".join(f"`{w}`" for w in score["wrong"])
                lines.append(f"- {row[0]}, {name}: {shown}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdirs", nargs="+", help="trained runs of equal digits")
    parser.add_argument("--stem", default="edge_neighbours", help="results file name")
    parser.add_argument("--out_dir", default=str(common.RESULTS))
    args = parser.parse_args(argv)
    provenance = common.provenance(None if argv is None else [__file__, *argv])
    from jaxadd import checkpoint

    try:
        runs = [score_run(workdir) for workdir in args.workdirs]
    except checkpoint.WorkdirError as err:
        print(f"edge_neighbours: error: {err}", file=sys.stderr)
        return 1
    if len({run["digits"] for run in runs}) > 1:
        print("edge_neighbours: error: the runs differ in digits", file=sys.stderr)
        return 1
    machine = common.machine_info()
    out_stem = pathlib.Path(args.out_dir) / args.stem
    common.write_json(
        out_stem.with_suffix(".json"),
        {"provenance": provenance, "machine": machine, "runs": runs},
    )
    text = render(runs, provenance, machine)
    out_stem.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
