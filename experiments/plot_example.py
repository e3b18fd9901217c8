"""An example of ``python -m jaxadd.plot``: three seeds of the bare command, drawn.

    python experiments/plot_example.py          # the 3-digit default, seeds 0-2
    python experiments/plot_example.py --tiny   # seconds-long smoke run (tests)

Runs what a user would, as two commands:

    python -m jaxadd.main --num_seeds=3 --workdir=runs/add3 --progress=none
    python -m jaxadd.plot runs/add3 --out=results/plot_example.png

in a fresh temporary folder, so that the lines are labelled as a user's would
be: ``runs/add3/seed_0`` to ``seed_2``. Writes ``results/plot_example.png``
and, beside it, ``plot_example.json`` (provenance and each seed's last
metrics, so that the picture can be checked against numbers).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import common  # noqa: E402

WORKDIR = "runs/add3"
SHOWN = (
    "epoch",
    "val_exact_accuracy",
    "uniform_exact_accuracy",
    "longest_chain_exact_accuracy",
    "train_loss",
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_seeds", type=int, default=3)
    parser.add_argument("--flags", default="", help="More flags of jaxadd.main.")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--out", default=str(common.RESULTS / "plot_example"))
    args = parser.parse_args(argv)
    flags = shlex.split(args.flags) + (["--config=tiny"] if args.tiny else [])
    out = pathlib.Path(args.out).resolve()  # the runs' folder is a temporary cwd
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp) / WORKDIR
        train = [
            *("-m", "jaxadd.main", *flags, f"--num_seeds={args.num_seeds}"),
            *(f"--workdir={WORKDIR}", "--progress=none"),
        ]
        plot = ["-m", "jaxadd.plot", WORKDIR, f"--out={out}.png"]
        for command in (train, plot):
            subprocess.run([sys.executable, *command], check=True, cwd=tmp)
        last = {}
        for k in range(args.num_seeds):
            lines = (workdir / f"seed_{k}" / "metrics.jsonl").read_text().splitlines()
            metrics = json.loads(lines[-1])
            last[f"seed_{k}"] = {name: metrics.get(name) for name in SHOWN}
    report = {
        "provenance": common.provenance(None if argv is None else [__file__, *argv]),
        "commands": [shlex.join(["python", *command]) for command in (train, plot)],
        "last_epoch": last,
    }
    common.write_json(out.with_suffix(".json"), report)
    print(f"wrote {out}.png and {out}.json")


if __name__ == "__main__":
    main()
