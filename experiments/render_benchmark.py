"""The benchmark's JSON report as Markdown, the one ``benchmark.py`` writes.

    python experiments/render_benchmark.py experiments/results/benchmark.json

rewrites ``experiments/results/benchmark.md`` from the JSON beside it (``--out``
writes elsewhere), so a change of wording needs no new measurement. Sections
follow the report: the machine and the matmul peak, throughput and MFU, wall
time to 99%, then the Keras pairing if it ran.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import common  # noqa: E402


def render(report: dict) -> str:
    """The whole Markdown report of ``benchmark.py``'s JSON ``report``."""
    lines = [
        *_header_lines(report),
        *_throughput_lines(report["throughput"]),
        *_wall_lines(report),
        *_keras_lines(report["keras"]),
    ]
    return "\n".join(lines) + "\n"


def _header_lines(report: dict) -> list[str]:
    lines = ["# jaxadd benchmark", ""]
    # Reports written before results carried their provenance have none.
    if "provenance" in report:
        lines += [common.provenance_line(report["provenance"]), ""]
    generation = report["generation"]
    return lines + [
        f"Machine: {common.machine_line(report['machine'])}. Made by `python "
        f"experiments/benchmark.py{' --tiny' if report['tiny'] else ''}`; every "
        "number below comes from that one run (medians of repeats).",
        "",
        f"- float32 matmul peak (square jitted matmul): "
        f"{report['matmul_peak_flops'] / 1e9:.1f} GFLOP/s",
        f"- problem generation: {generation['problems']:,} unique "
        f"{generation['digits']}-digit problems in {generation['seconds']:.3f} s "
        f"({generation['problems_per_sec']:,.0f} problems/s)",
        "",
    ]


def _throughput_lines(cells: list[dict]) -> list[str]:
    header = [
        "digits",
        "batch",
        "examples/s",
        "MFLOP/example (analytic)",
        "MFLOP/example (XLA)",
        "MFU",
        "compile s (epoch fn)",
    ]
    rows = [
        [
            c["digits"],
            c["batch_size"],
            f"{c['examples_per_sec']:,.0f}",
            f"{c['straightforward_flops_per_example'] / 1e6:.2f}",
            f"{c['xla_flops_per_example'] / 1e6:.2f}",
            f"{c['mfu']:.1%}",
            f"{c['compile_sec']:.2f}",
        ]
        for c in cells
    ]
    return [
        "## Training throughput and model FLOPs utilization",
        "",
        "MFU = FLOPs per example of the straightforward (Keras) formulation, counted "
        "analytically (all matmuls, forward and backward) x examples/s / matmul peak. "
        "XLA's cost analysis of the compiled step is shown beside it: it counts what "
        "jaxadd actually executes (the repeated decoder input projected once, "
        "elementwise work included).",
        "",
        common.markdown_table(header, rows),
    ]


def _wall_lines(report: dict) -> list[str]:
    """Launch to exit of the default run: no cache, a filled cache, a split CPU."""
    wall = report["wall_to_99"]
    lines = [
        "## Wall time to 99% held-out exact match",
        "",
        f"`python -m jaxadd.main {' '.join(wall['flags'])} --seed=S`, launch to exit "
        "(interpreter start, data generation and compilation included): median "
        f"**{wall['median_wall_sec']:.1f} s** over seeds "
        f"{', '.join(str(r['seed']) for r in wall['runs'])}; all reached 99%: "
        f"{wall['all_reached']}.",
        "",
        *_wall_run_lines(wall["runs"]),
    ]
    cached = report["wall_to_99_cached"]
    lines += [
        "",
        "With JAX's persistent compilation cache filled by one earlier run of the "
        "same flags (seed "
        f"{cached['runs'][0]['seed']}, not counted), that is with "
        "`JAX_COMPILATION_CACHE_DIR=DIR JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0`"
        f": median **{cached['median_wall_sec']:.1f} s**; all reached 99%: "
        f"{cached['all_reached']}. A fresh machine has no such cache: the median "
        "above, without one, is the one that counts.",
        "",
        *_wall_run_lines(cached["runs"]),
        "",
    ]
    split_wall = report.get("wall_to_99_split_cpu")
    if split_wall:
        lines += [
            f"The CPU split into devices, `{split_wall['flags'][-1]}` (no cache): "
            f"median **{split_wall['median_wall_sec']:.1f} s**; all reached 99%: "
            f"{split_wall['all_reached']}.",
            "",
            *_wall_run_lines(split_wall["runs"]),
            "",
        ]
    return lines


def _wall_run_lines(runs: list[dict]) -> list[str]:
    return [
        f"- seed {r['seed']}: {r['wall_sec']:.1f} s, {r['epochs']} epochs; "
        f"{r['first_line_sec']:.1f} s to the first line "
        f"(`...{r['first_line'].rpartition(';')[2]}`), "
        f"{r['exit_sec']:.2f} s from the last line to exit; "
        f"last epoch: `{r['last_epoch_line']}`"
        for r in runs
    ]


def _keras_lines(keras: list[dict]) -> list[str]:
    """The pairing's table: one row per Keras backend and batch size."""
    if not keras:
        return []
    timed = [k for k in keras if "error" not in k]
    problems = f"{timed[0]['examples']:,} " if timed else ""
    lines = [
        "## Keras 3, same model and data, same run",
        "",
        "Each Keras backend runs in its own process, compiled before the clock "
        "starts. Then, round after round, one epoch of jaxadd and one of each "
        "Keras backend are timed one after another (the order rotates), so "
        "that all of them run on the same stretch of the machine; the ratio "
        "is the median of the rounds' ratios. An epoch is the same "
        f"{problems}problems for all (jaxadd drops a last partial batch), one-hot "
        "encoded as in the Keras example; examples/s counts the whole epoch.",
        "",
    ]
    split = next((k for k in timed if "split_cpu_devices" in k), None)
    header = [
        "Keras backend",
        "batch",
        "Keras examples/s",
        "jaxadd examples/s, same rounds",
        "jaxadd / Keras",
    ]
    if split:
        lines += [
            f"jaxadd also runs split into {split['split_cpu_devices']} CPU "
            f"devices (`--cpu_devices={split['split_cpu_devices']}`), in a "
            "process of its own that takes its turn in the same rounds.",
            "",
        ]
        header += [
            f"jaxadd on {split['split_cpu_devices']} CPU devices, examples/s",
            "it / Keras",
        ]
    rows = []
    for k in keras:
        if "error" in k:
            rows.append(
                [k["backend"], k["batch_size"], "-", "-", f"not run: {k['error']}"]
                + ["-"] * (len(header) - 5)
            )
            continue
        row = [
            f"{k['backend']} (keras {k['keras']})",
            k["batch_size"],
            f"{k['examples_per_sec']:,.0f}",
            *_ratio_cells(k, "jaxadd_"),
        ]
        if split and "split_cpu_examples_per_sec" in k:
            row += _ratio_cells(k, "split_cpu_")
        elif split:
            row += ["-", f"not run: {k.get('split_cpu_error', '')}"]
        rows.append(row)
    return lines + [common.markdown_table(header, rows)]


def _ratio_cells(row: dict, prefix: str) -> list[str]:
    return [
        f"{row[prefix + 'examples_per_sec']:,.0f}",
        f"**{row[prefix + 'ratio']:.2f}x** ({row[prefix + 'ratio_min']:.2f}-"
        f"{row[prefix + 'ratio_max']:.2f}x over {row['rounds']} rounds)",
    ]


def main(argv: list[str] | None = None) -> int:
    """Writes the Markdown of one JSON report; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", help="a benchmark.json that benchmark.py wrote")
    parser.add_argument("--out", help="Markdown to write (default: REPORT's .md)")
    args = parser.parse_args(argv)
    path = pathlib.Path(args.report)
    try:
        text = render(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(
            f"render_benchmark: error: cannot render {path}: {error!r}",
            file=sys.stderr,
        )
        return 1
    out = pathlib.Path(args.out) if args.out else path.with_suffix(".md")
    out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
