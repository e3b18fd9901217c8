"""The bare command for each number of digits, over seeds, on full-length problems.

    python experiments/digits_defaults.py [--digits=1,2,3,4,5] [--seeds=0,1,2]

``--tiny`` is a seconds-long smoke run (1 and 2 digits, one seed, every run cut
to one epoch of at most 600 problems), for the tests.

For each ``N`` and seed ``S`` this trains exactly what
``python -m jaxadd.main --digits=N --reverse --seed=S`` trains (the settings
``jaxadd.configs.resolve`` gives those flags, the recipe ``--digits`` follows),
each in a fresh process, and times it from the start of ``train_and_evaluate``
to its return: data, compilation, every epoch and its scoring, as the results
table's ``wall s`` is timed (start-up and imports, a few seconds, are not).
Then it scores the final parameters on problems none of which it trained on:

- uniform-10k (``jaxadd.evaluate.uniform_10k_suite``): 10,000 problems with
  operands uniform in ``[0, 10**N)``, suite seed 0, and the edge cases;
- the longest carry chains: 1,000 problems whose carry runs through all ``N``
  columns (``999+1`` at ``N=3``), suite seed 0.

Once per ``N`` (seed 0) it also reruns the ``best-dN`` row of the results table
(``results/table_runs/best-dN.json``), with that row's settings and its stopping
rule (held-out exact match >= 0.99), so that the time the bare command must
stay within is measured on the same machine in the same session.

Writes ``results/digits_defaults.json`` after every run, and
``results/digits_defaults.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments import common  # noqa: E402
from jaxadd import configs  # noqa: E402
from jaxadd.config import Config  # noqa: E402

# What the issue asks of N = 2..5, seed by seed.
UNIFORM_BAR, CHAIN_BAR = 0.99, 0.98


# --tiny's cut, applied to every run.
TINY = {"epochs": 1, "training_size": 600}


def bare_config(digits: int, seed: int, cut: dict) -> tuple[Config, str]:
    """``python -m jaxadd.main --digits=N --reverse --seed=S``'s settings."""
    given = {"digits": digits, "reverse": True, "seed": seed, "num_samples": 0}
    config, line = configs.resolve(None, given)
    return _cut(config, cut), line


def reference_config(digits: int, cut: dict) -> Config | None:
    """The ``best-dN`` row's settings with its held-out stopping rule, or None."""
    path = common.RESULTS / "table_runs" / f"best-d{digits}.json"
    if not path.exists():
        return None
    row = json.loads(path.read_text())["config"]
    config = Config.from_dict({**row, "num_samples": 0})
    return _cut(dataclasses.replace(config, target_on="held_out"), cut)


def _cut(config: Config, cut: dict) -> Config:
    if "training_size" in cut:
        cut = {**cut, "training_size": min(cut["training_size"], config.training_size)}
    return dataclasses.replace(config, **cut)


def run(config: Config, quiet: bool) -> dict:
    """Trains and scores ``config`` in a fresh process, as a command would.

    A process of its own: nothing compiled for an earlier run is reused, and
    each run starts with the memory of a new command.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run.json")
        command = [sys.executable, os.path.abspath(__file__), "--child", out]
        command += [json.dumps(config.to_dict())] + (["--quiet"] if quiet else [])
        subprocess.run(command, check=True)
        with open(out) as f:
            return json.load(f)


def _child(out: str, config_json: str, quiet: bool) -> None:
    """``run``'s other side: trains, scores and writes the row to ``out``."""
    from jaxadd import train

    config = Config.from_dict(json.loads(config_json))
    start = time.perf_counter()
    result = train.train_and_evaluate(
        config, None, log=(lambda line: None) if quiet else print
    )
    wall = time.perf_counter() - start
    row = {
        "config": config.to_dict(),
        "wall_sec": wall,
        "epochs_run": result["epochs_run"],
        "val_exact_accuracy": result["val_exact_accuracy"],
        "history": result["history"],
        **common.full_length_scores(config, result["params"]),
    }
    common.write_json(common.pathlib.Path(out), row)


def summary(rows: list[dict], reference: dict | None) -> dict:
    """Mean and min over seeds, how many pass, and the time against the reference."""
    uniform = [r["uniform_10k"]["accuracy"] for r in rows]
    chain = [r["longest_chain"]["accuracy"] for r in rows]
    walls = [r["wall_sec"] for r in rows]
    passing = sum(
        u is not None and u >= UNIFORM_BAR and (c is None or c >= CHAIN_BAR)
        for u, c in zip(uniform, chain)
    )
    known = [u for u in uniform if u is not None]
    known_chain = [c for c in chain if c is not None]
    return {
        "seeds": len(rows),
        "uniform_mean": statistics.mean(known) if known else None,
        "uniform_min": min(known) if known else None,
        "chain_mean": statistics.mean(known_chain) if known_chain else None,
        "chain_min": min(known_chain) if known_chain else None,
        "seeds_passing": passing,
        "wall_max_sec": max(walls),
        "reference_wall_sec": None if reference is None else reference["wall_sec"],
    }


def render(report: dict) -> str:
    lines = [
        "# The bare command per number of digits, over seeds",
        "",
        common.provenance_line(report["provenance"]),
        "",
        "Each run trains what `python -m jaxadd.main --digits=N --reverse --seed=S` "
        "trains (the recipe `--digits` follows), timed from the start of "
        "`train_and_evaluate` to its return (data, compilation, epochs; the "
        "results table's `wall s`). Uniform-10k: 10,000 problems with operands "
        "uniform in [0, 10^N), suite seed 0, none trained on (fewer where fewer "
        f"exist). Longest chain: {common.LONGEST_CHAIN_SIZE:,} problems whose "
        "carry runs through every column. Exact = the whole answer right. "
        "`ref` rows rerun the results table's `best-dN` settings with their "
        "held-out stopping rule, today, on this machine: the time the bare "
        "command must stay within. Bar for N = 2..5: uniform >= "
        f"{UNIFORM_BAR:.0%} and longest chain >= {CHAIN_BAR:.0%} for every seed.",
        "",
    ]
    header = [
        "digits",
        "run",
        "seed",
        "epochs",
        "wall s",
        "held-out exact %",
        "uniform-10k exact %",
        "longest-chain exact %",
        "edge cases right",
    ]
    table = []
    for entry in report["digits"]:
        runs = []
        if entry["reference"]:
            runs.append((f"ref best-d{entry['digits']}", entry["reference"]))
        runs += [(entry["recipe"], r) for r in entry["runs"]]
        for name, r in runs:
            edge = r["edge_cases"]
            table.append(
                [
                    entry["digits"],
                    name,
                    r["config"]["seed"],
                    r["epochs_run"],
                    f"{r['wall_sec']:.1f}",
                    common.percent(r["val_exact_accuracy"]),
                    common.percent(r["uniform_10k"]["accuracy"]),
                    common.percent(r["longest_chain"]["accuracy"]),
                    f"{edge['correct']}/{edge['n']}",
                ]
            )
    lines.append(common.markdown_table(header, table))
    header = [
        "digits",
        "recipe",
        "seeds passing",
        "uniform mean / min %",
        "longest chain mean / min %",
        "slowest seed s",
        "ref best-dN s",
    ]
    table = []
    for entry in report["digits"]:
        if "summary" not in entry:  # its reference run alone, so far
            continue
        s = entry["summary"]
        ref = s["reference_wall_sec"]
        table.append(
            [
                entry["digits"],
                entry["recipe"],
                f"{s['seeds_passing']} of {s['seeds']}",
                f"{common.percent(s['uniform_mean'])} / "
                f"{common.percent(s['uniform_min'])}",
                f"{common.percent(s['chain_mean'])} / {common.percent(s['chain_min'])}",
                f"{s['wall_max_sec']:.1f}",
                "-" if ref is None else f"{ref:.1f}",
            ]
        )
    lines += ["## Over seeds", "", common.markdown_table(header, table)]
    wrong = [
        f"- {entry['digits']} digits, seed {r['config']['seed']}: "
        + ", ".join(r["edge_cases"]["wrong"])
        for entry in report["digits"]
        for r in entry["runs"]
        if r["edge_cases"]["wrong"]
    ]
    if wrong:
        lines += ["Edge cases answered wrong (problem=answer given):", "", *wrong, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", default="1,2,3,4,5", help="comma-separated")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated")
    parser.add_argument(
        "--noreference", action="store_true", help="skip the best-dN reruns"
    )
    parser.add_argument("--stem", default="digits_defaults")
    parser.add_argument("--out_dir", default=str(common.RESULTS))
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child, args.quiet)
        return
    digit_counts = [int(d) for d in args.digits.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    cut = {}
    if args.tiny:
        digit_counts, seeds, cut = [1, 2], [0], TINY
    out_dir = common.pathlib.Path(args.out_dir)
    report = {
        "provenance": common.provenance(None if argv is None else [sys.argv[0], *argv]),
        "digits": [],
    }

    def save() -> None:
        common.write_json(out_dir / f"{args.stem}.json", report)
        (out_dir / f"{args.stem}.md").write_text(render(report))

    for digits in digit_counts:
        entry = {
            "digits": digits,
            "recipe": configs.for_digits(digits),
            "runs": [],
            "reference": None,
        }
        report["digits"].append(entry)
        reference = None if args.noreference else reference_config(digits, cut)
        if reference is not None:
            entry["reference"] = run(reference, args.quiet)
            save()
        for seed in seeds:
            config, line = bare_config(digits, seed, cut)
            if not args.quiet:
                print(line, flush=True)
            entry["runs"].append(run(config, args.quiet))
            entry["summary"] = summary(entry["runs"], entry["reference"])
            save()
            last = entry["runs"][-1]
            shown = {k: v for k, v in last.items() if k not in ("history", "config")}
            print(json.dumps(shown), flush=True)


if __name__ == "__main__":
    main()
