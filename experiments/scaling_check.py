"""Training throughput against the number of fake CPU devices: a functional check.

    python experiments/scaling_check.py                  # 1, 2 and 4 devices
    python experiments/scaling_check.py --devices=1,8 --out=/tmp/scaling.md

Each device count trains the same small model in its own process, with
``--xla_force_host_platform_device_count`` making that many CPU devices; the
report (``results/scaling_check.md`` and ``.json``) gives examples per second
and the final losses. Fake devices only divide the same CPU cores between them,
so the numbers show that the sharded program runs and computes the same thing
at every device count; they say nothing about speed-up on real devices.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

# common imports jax only inside its functions, and this parent calls the one
# that starts jax (provenance) only once the children are done: their timings
# have the machine to themselves.
from experiments.common import (  # noqa: E402
    RESULTS,
    cpu_model,
    provenance,
    provenance_line,
)

FLAGS = [
    "--digits=3",
    "--training_size=20000",
    "--batch_size=128",
    "--hidden_size=128",
    # Pinned, not the defaults: the check stays the same if those change.
    "--learning_rate=1e-3",
    "--lr_schedule=constant",
    "--epochs=3",
    "--num_samples=0",
]


def run(num_devices: int, flags: list[str]) -> dict:
    """Trains once on ``num_devices`` fake CPU devices; returns its figures."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={num_devices}"
    env["JAX_PLATFORMS"] = "cpu"
    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "jaxadd.main", *flags, f"--workdir={workdir}"],
            capture_output=True,
            text=True,
            env=env,
        )
        wall = time.perf_counter() - start
        if result.returncode:
            raise SystemExit(f"{num_devices} device(s) failed:\n{result.stderr}")
        with open(os.path.join(workdir, "metrics.jsonl")) as f:
            history = [json.loads(line) for line in f]
    compile_sec = float(re.search(r"compile ([\d.]+) s", result.stdout).group(1))
    # The first epoch also pays for first-run set-up: the later ones are the rate.
    later = history[1:] or history
    return {
        "devices": num_devices,
        "examples_per_sec": statistics.median(
            m["train_examples_per_sec"] for m in later
        ),
        "compile_sec": compile_sec,
        "wall_sec": wall,
        "train_loss": history[-1]["train_loss"],
        "val_exact_accuracy": history[-1]["val_exact_accuracy"],
    }


def report(rows: list[dict], flags: list[str], record: dict[str, str]) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "# Throughput against fake CPU device count",
        "",
        provenance_line(record),
        "",
        "**A functional check, not a speed claim.** Fake devices "
        "(`--xla_force_host_platform_device_count`) split the same CPU cores among "
        "them; this shows the data-parallel program runs on 1, 2 and 4 devices and "
        "gives the same losses, not how real devices scale.",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, load average {load} "
        "when the report was written (shared machine); "
        f"Python {platform.python_version()}.",
        "",
        f"Command: `XLA_FLAGS=--xla_force_host_platform_device_count=N "
        f"python -m jaxadd.main {' '.join(flags)}`; examples/s is the median over "
        "epochs 2 and later.",
        "",
        "| devices | examples/s | compile s | final train loss | final val exact |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['devices']} | {row['examples_per_sec']:,.0f} | "
            f"{row['compile_sec']:.1f} | {row['train_loss']:.6f} | "
            f"{row['val_exact_accuracy']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="1,2,4", help="comma-separated counts")
    parser.add_argument("--out", default=str(RESULTS / "scaling_check.md"))
    args = parser.parse_args()
    rows = []
    for count in (int(n) for n in args.devices.split(",")):
        rows.append(run(count, FLAGS))
        print(json.dumps(rows[-1]), flush=True)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = provenance()
    out.write_text(report(rows, FLAGS, record))
    machine = {"cpu": cpu_model(), "cores": os.cpu_count(), "load": os.getloadavg()}
    payload = {"provenance": record, "machine": machine, "flags": FLAGS, "rows": rows}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
