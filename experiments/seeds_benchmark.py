"""N seeds in one program (``--num_seeds=N``) against N runs one after another.

    python experiments/seeds_benchmark.py [--num_seeds=1,2,4,8] [--flags="..."]
    python experiments/seeds_benchmark.py --tiny   # seconds-long smoke run (tests)

After one untimed warm-up run, every run is a fresh ``python -m jaxadd.main``
process with ``--progress=none`` and a workdir of its own, timed from launch to
exit, so start-up, imports, data, compilation, every epoch with its scoring and
the checkpoints all count: what a user waits for. The sequential side runs
seeds ``0..max(N)-1`` once each; its wall for N is the sum of the first N.
The one-program side runs ``--num_seeds=N --seed=0``: on a CPU, one CPU device
per seed unless ``--flags`` sets ``--cpu_devices`` (``jaxadd.devices``), and
again with ``--cpu_devices=1``, all seeds' steps batched on one device, the
only layout before that default. Both sides train the same
seeds for the same epochs (the bare command: the 3-digit default recipe and
its epochs); the script also reports how far each seed's final exact match is
from its single run's.

Writes ``results/seeds_benchmark.json`` and ``results/seeds_benchmark.md``
(``--out`` for another stem).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import common  # noqa: E402

TINY_FLAGS = "--config=tiny"
EXACT = ("val_exact_accuracy", "uniform_exact_accuracy", "longest_chain_exact_accuracy")


def timed_run(flags: list[str], workdir: str) -> float:
    """Wall seconds of one ``jaxadd.main`` process, launch to exit."""
    command = [sys.executable, "-m", "jaxadd.main", *flags, "--progress=none"]
    command.append(f"--workdir={workdir}")
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=common.ROOT)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{shlex.join(command)} failed: {done.stderr.strip()}")
    return wall


def last_metrics(workdir: str) -> dict:
    lines = pathlib.Path(workdir, "metrics.jsonl").read_text().splitlines()
    return json.loads(lines[-1])


def measure(num_seeds: list[int], flags: list[str], scratch: str) -> dict:
    # Untimed: the first process after a while pays for cold file caches (it
    # ran 1.4x slower than the next ones, once).
    timed_run([*flags, "--seed=0"], os.path.join(scratch, "warm_up"))
    sequential = []
    for seed in range(max(num_seeds)):
        workdir = os.path.join(scratch, f"single_{seed}")
        wall = timed_run([*flags, f"--seed={seed}"], workdir)
        sequential.append({"seed": seed, "wall_sec": wall, **_scores(workdir)})
        print(f"single seed {seed}: {wall:.1f} s", flush=True)
    programs = []
    for n in num_seeds:
        workdir = os.path.join(scratch, f"sweep_{n}")
        wall = timed_run([*flags, "--seed=0", f"--num_seeds={n}"], workdir)
        # --num_seeds=1 is a plain single run, in the workdir itself.
        seed_dirs = [os.path.join(workdir, f"seed_{k}") for k in range(n)]
        per_seed = [_scores(d) for d in (seed_dirs if n > 1 else [workdir])]
        sequential_wall = sum(run["wall_sec"] for run in sequential[:n])
        one_device_wall = None
        if n > 1 and not any(f.startswith("--cpu_devices") for f in flags):
            one_device_wall = timed_run(
                [*flags, "--seed=0", f"--num_seeds={n}", "--cpu_devices=1"],
                os.path.join(scratch, f"sweep_{n}_one_device"),
            )
        # Equal to float rounding, which over a whole run may flip an answer.
        largest_difference = max(
            abs(per_seed[k][name] - sequential[k][name])
            for k in range(n)
            for name in EXACT
        )
        programs.append(
            {
                "num_seeds": n,
                "wall_sec": wall,
                "sequential_wall_sec": sequential_wall,
                "ratio": wall / sequential_wall,
                "one_device_wall_sec": one_device_wall,
                "train_examples_per_sec_per_seed": per_seed[0]["examples_per_sec"],
                "sequential_examples_per_sec": statistics.mean(
                    run["examples_per_sec"] for run in sequential[:n]
                ),
                "largest_exact_match_difference": largest_difference,
                "per_seed": per_seed,
            }
        )
        print(
            f"{n} seeds in one program: {wall:.1f} s, "
            f"ratio {wall / sequential_wall:.2f}"
            + (
                ""
                if one_device_wall is None
                else f"; on one CPU device {one_device_wall:.1f} s"
            ),
            flush=True,
        )
    return {"sequential": sequential, "programs": programs}


def _scores(workdir: str) -> dict:
    metrics = last_metrics(workdir)
    return {
        "examples_per_sec": metrics["train_examples_per_sec"],
        **{name: metrics[name] for name in EXACT},
    }


def markdown(report: dict) -> str:
    rows = [
        [
            p["num_seeds"],
            f"{p['wall_sec']:.1f}",
            f"{p['sequential_wall_sec']:.1f}",
            f"{p['ratio']:.2f}x",
            "-"
            if p.get("one_device_wall_sec") is None
            else f"{p['one_device_wall_sec']:.1f}",
            f"{p['train_examples_per_sec_per_seed']:,.0f}",
            f"{p['num_seeds'] * p['train_examples_per_sec_per_seed']:,.0f}",
            f"{p['sequential_examples_per_sec']:,.0f}",
            f"{100 * p['largest_exact_match_difference']:.2f}",
        ]
        for p in report["programs"]
    ]
    header = [
        "seeds N",
        "one program: wall s",
        "N sequential runs: wall s",
        "ratio",
        "one program on 1 CPU device: wall s",
        "ex/s per seed (training)",
        "ex/s all seeds",
        "ex/s of a single run",
        "largest exact-match difference, points",
    ]
    return (
        "# Seeds in one program against sequential runs\n\n"
        f"{common.provenance_line(report['provenance'])}\n\n"
        f"Flags of every run: `{report['flags'] or '(none: the bare command)'}`"
        " plus `--progress=none`, a workdir, and `--seed` / `--num_seeds`.\n\n"
        "Walls are whole processes, launch to exit; `ratio` is the one program's "
        "wall over the N sequential runs' summed walls (the issue's aim: at most "
        "0.75x for 4 seeds on the 2-core CPU). The one program runs each seed on "
        "a CPU device of its own (the default of `--num_seeds` on a CPU) unless the "
        "flags set `--cpu_devices`; the next column runs it with `--cpu_devices=1`, "
        "every seed's step batched on one device. Examples/s are training steps only, "
        "from `metrics.jsonl` (last epoch). The last column compares each "
        "seed's final held-out, uniform and longest-chain exact match in the "
        "program with its single run: equal to float rounding, which over "
        "thousands of steps may flip a few answers.\n\n"
        + common.markdown_table(header, rows)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_seeds", default="1,2,4,8")
    parser.add_argument("--flags", default="", help="more jaxadd.main flags")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--out", default=str(common.RESULTS / "seeds_benchmark"))
    args = parser.parse_args(argv)
    num_seeds = [int(n) for n in args.num_seeds.split(",")]
    flags = args.flags
    if args.tiny:
        num_seeds, flags = [1, 2], f"{TINY_FLAGS} {flags}".strip()
    with tempfile.TemporaryDirectory() as scratch:
        report = measure(num_seeds, shlex.split(flags), scratch)
    report = {
        "provenance": common.provenance(None if argv is None else [__file__, *argv]),
        "flags": flags,
        **report,
    }
    out = pathlib.Path(args.out)
    common.write_json(out.with_suffix(".json"), report)
    out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {out}.json and {out}.md")


if __name__ == "__main__":
    main()
