"""The experiment scripts run end to end on a tiny setting (no speed is asserted)."""

import contextlib
import dataclasses
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments import common  # noqa: E402
from jaxadd import configs  # noqa: E402
from jaxadd.config import Config  # noqa: E402


def run_script(*args: str) -> subprocess.CompletedProcess:
    # The CPU backend even where an accelerator is present: the benchmark's
    # split-CPU rows exist only there.
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


def assert_provenance(report: dict, script: str) -> None:
    """``report`` says which commit, machine and command made it, and when."""
    record = report["provenance"]
    assert sorted(record) == ["command", "commit", "date", "machine"]
    assert record["commit"]
    if (ROOT / ".git").exists():  # a git checkout, clean or not, knows its commit
        assert record["commit"] != "unknown"
    assert record["command"].startswith(sys.executable) and script in record["command"]
    assert "cores" in record["machine"] and "jax " in record["machine"]


# Stands in for a python with keras (the shebang names this interpreter). It
# checks the arguments the benchmark passes; on the JAX backend it serves epochs
# that take one (reported) second each, at batch 512 only one, then it dies; on
# TensorFlow it cannot start.
FAKE_KERAS_PYTHON = """#!{python}
import json, os, sys
args = dict(a.lstrip("-").partition("=")[::2] for a in sys.argv[2:])
assert "serve" in args and args["digits"] == "2", sys.argv
if os.environ["KERAS_BACKEND"] == "tensorflow":
    sys.exit("ModuleNotFoundError: No module named 'tensorflow'")
examples = int(args["examples"])
print(json.dumps({{"ready": True, "examples": examples, "keras": "fake"}}), flush=True)
for served, _ in enumerate(sys.stdin):
    if args["batch_size"] == "512" and served == 1:
        sys.exit(1)
    print(json.dumps({{"seconds": 1.0}}), flush=True)
"""


def test_benchmark_tiny_writes_its_report(tmp_path):
    out = tmp_path / "benchmark.md"
    fake_keras = tmp_path / "fake_keras_python"
    fake_keras.write_text(FAKE_KERAS_PYTHON.format(python=sys.executable))
    fake_keras.chmod(0o755)
    run_script(
        "experiments/benchmark.py",
        "--tiny",
        f"--out={out}",
        f"--keras_python={fake_keras}",
    )
    report = json.loads(out.with_suffix(".json").read_text())
    assert_provenance(report, "experiments/benchmark.py --tiny")
    assert report["matmul_peak_flops"] > 0
    assert report["generation"]["problems_per_sec"] > 0
    for cell in report["throughput"]:
        assert cell["examples_per_sec"] > 0
        assert cell["straightforward_flops_per_example"] > cell["xla_flops_per_example"]
    (run,) = report["wall_to_99"]["runs"]
    assert 0 < run["first_line_sec"] < run["wall_sec"]
    assert 0 <= run["exit_sec"] < run["wall_sec"] - run["first_line_sec"]
    assert "compile" in run["first_line"]
    # Compiled programs read back from the cache compute the same metrics.
    (cached,) = report["wall_to_99_cached"]["runs"]
    assert cached["last_epoch_line"].split()[:10] == run["last_epoch_line"].split()[:10]
    text = out.read_text()
    assert "examples/s" in text and "Machine:" in text
    assert f"Provenance: commit `{report['provenance']['commit']}`" in text
    # Keras's epochs alternate with ours; a backend that cannot start, or that
    # stops answering, is reported.
    rows = {(k["backend"], k["batch_size"]): k for k in report["keras"]}
    assert sorted(rows) == sorted(
        (backend, batch) for backend in ("jax", "tensorflow") for batch in (32, 512)
    )
    timed = rows["jax", 32]
    assert timed["examples_per_sec"] == 2_000  # the fake's 2,000 examples in 1 s
    assert timed["jaxadd_examples"] == 2_000 // 32 * 32  # whole batches of them
    # Three contestants: jaxadd here, jaxadd on 2 CPU devices, Keras on jax.
    assert timed["rounds"] == 3
    # jaxadd / Keras, per round; the fake's rate is the same in every round.
    for prefix in ("jaxadd_", "split_cpu_"):
        ours = timed[prefix + "examples_per_sec"]
        assert ours > 0
        assert timed[prefix + "ratio"] == pytest.approx(ours / 2_000)
    assert timed["split_cpu_devices"] == 2
    # --cpu_devices=2 reaches main: its first line counts 2 devices.
    (split_run,) = report["wall_to_99_split_cpu"]["runs"]
    assert report["wall_to_99_split_cpu"]["flags"][-1] == "--cpu_devices=2"
    assert "2 device(s) [cpu]" in split_run["first_line"]
    assert "1 device(s) [cpu]" in run["first_line"]
    assert "on 2 CPU devices" in text
    assert "stopped answering" in rows["jax", 512]["error"]
    for batch in (32, 512):
        assert rows["tensorflow", batch]["error"] == (
            "ModuleNotFoundError: No module named 'tensorflow'"
        )
    assert "not run: ModuleNotFoundError" in text


def test_render_benchmark_reproduces_the_committed_reports(tmp_path):
    # The Markdown is a function of the JSON alone: redrawn, it is the same.
    results = ROOT / "experiments" / "results"
    for stem in ("benchmark", "benchmark_repeat"):
        out = tmp_path / f"{stem}.md"
        run_script(
            "experiments/render_benchmark.py",
            str(results / f"{stem}.json"),
            f"--out={out}",
        )
        assert out.read_bytes() == (results / f"{stem}.md").read_bytes()


def test_table_tiny_writes_table_and_curves(tmp_path):
    run_script(
        "experiments/reproduce_table.py",
        "--tiny",
        "--num_seeds=2",
        "--rows=norev",
        f"--out_dir={tmp_path}",
    )
    table = json.loads((tmp_path / "table.json").read_text())
    assert_provenance(table, "experiments/reproduce_table.py --tiny")
    row_file = json.loads(
        (tmp_path / "table_seed_runs" / "tiny-norev.json").read_text()
    )
    assert row_file["provenance"] == table["provenance"]
    # --rows=norev: the other row is named as not yet run.
    assert [row["name"] for row in table["rows"]] == ["tiny-norev"]
    assert table["missing"] == ["tiny-rev"]
    (row,) = table["rows"]
    assert [s["seed"] for s in row["seeds"]] == [0, 1]
    for s in row["seeds"]:
        assert len(s["history"]) == s["epochs_run"] >= 1
        assert 0.0 <= s["train_exact_accuracy"] <= 1.0
        assert s["uniform_10k"]["n"] > 0 and s["longest_chain"]["n"] > 0
    uniform = [s["uniform_10k"]["accuracy"] for s in row["seeds"]]
    assert row["over_seeds"]["uniform-10k"]["min"] == min(uniform)
    text = (tmp_path / "table.md").read_text()
    assert "tiny-norev" in text and "Provenance: commit" in text
    # Each row names the run that made it (rows may come from other machines).
    assert f"- `tiny-norev`: commit `{table['provenance']['commit']}`" in text
    assert "Not yet run over seeds: `tiny-rev`" in text
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_table_row_with_a_workdir_resumes_from_its_checkpoints(tmp_path):
    args = ("--tiny", "--num_seeds=2", "--rows=norev", f"--out_dir={tmp_path}")
    workdir = f"--workdir={tmp_path / 'runs'}"
    first = run_script("experiments/reproduce_table.py", *args, workdir)
    row_path = tmp_path / "table_seed_runs" / "tiny-norev.json"
    trained = json.loads(row_path.read_text())
    assert trained["resumed_after_epoch"] is None
    # Each seed is an ordinary workdir, and the row prints its epochs.
    assert (tmp_path / "runs" / "tiny-norev" / "seed_1" / "metrics.jsonl").exists()
    assert re.search(r"seed 1: epoch +2 ", first.stdout)
    # A second invocation finds every seed's last checkpoint: nothing retrains,
    # and the scores are those of the same parameters.
    run_script("experiments/reproduce_table.py", *args, workdir)
    resumed = json.loads(row_path.read_text())
    assert resumed["resumed_after_epoch"] == 2
    for before, after in zip(trained["seeds"], resumed["seeds"]):
        assert after["history"] == before["history"]
        assert after["uniform_10k"] == before["uniform_10k"]
        assert after["train_exact_accuracy"] == before["train_exact_accuracy"]
    assert "(after resuming at epoch 2)" in (tmp_path / "table.md").read_text()


def test_long_addition_tiny_writes_table_and_curves(tmp_path):
    run_script(
        "experiments/long_addition.py",
        "--tiny",
        "--quiet",
        f"--out_dir={tmp_path}",
        f"--workdir_root={tmp_path / 'runs'}",
    )
    result = json.loads((tmp_path / "long_addition_tiny.json").read_text())
    assert_provenance(result, "experiments/long_addition.py --tiny")
    rows = result["rows"]
    assert [(r["digits"], r["hidden_size"]) for r in rows] == [(2, 8), (3, 8)]
    for row in rows:
        assert len(row["curve"]) == 1
        assert row["examples"] == row["curve"][-1]["examples"] > 0
        assert 0.0 <= row["longest_chain_accuracy"] <= 1.0
        # One bucket per longest chain 0..digits, the last the longest.
        chains = row["carry_chain"]
        assert [c["chain"] for c in chains] == list(range(row["digits"] + 1))
        assert chains[-1]["accuracy"] == row["longest_chain_accuracy"]
        # uniform-10k draws 10,000 pairs or, at 2 digits, all those untrained.
        assert 0 < row["uniform_10k"]["n"] <= 10_000
        assert row["longest_chain"]["n"] > 0 and row["edge_cases"]["n"] > 0
        # A tiny model gets most wrong: each wrong answer has a wrong digit.
        uniform = row["uniform_10k"]
        wrong = uniform["n"] - uniform["correct"]
        assert sum(uniform["digits_wrong"].values()) == wrong > 0
        assert wrong <= sum(uniform["wrong_at_position"])
    assert result["settings"]["recipe_flags"]["reverse_answer"] is True
    text = (tmp_path / "long_addition_tiny.md").read_text()
    assert "longest-chain exact %" in text and "Provenance: commit" in text
    assert "uniform-10k exact %" in text and "edge cases right" in text
    assert "wrong digits by position: 0: " in text
    assert (tmp_path / "long_addition_tiny.png").stat().st_size > 1000


def test_long_addition_ctrl_c_mid_run_is_one_line_and_resumes(tmp_path):
    # A 10-digit epoch is a compiled call of minutes: Ctrl-C must not wait for it.
    root = tmp_path / "runs"
    command = [sys.executable, "experiments/long_addition.py", "--config=tiny"]
    command += ["--epochs=40", "--per_bucket=20", "--quiet"]
    command += [f"--out_dir={tmp_path}", f"--workdir_root={root}"]
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    metrics = root / "d2_h16" / "metrics.jsonl"
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 300
        while not (metrics.exists() and metrics.read_text().strip()):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    if process.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert process.returncode == 130, stderr
    (line,) = stderr.decode().splitlines()
    assert line == (
        f"long_addition: interrupted by SIGINT; finished epochs kept under {root}; "
        "the same command resumes from there"
    )
    kept = metrics.read_text().splitlines()  # all 40 if it was scoring already
    assert 0 < len(kept) <= 40
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert metrics.read_text().splitlines()[: len(kept)] == kept
    assert len(metrics.read_text().splitlines()) == 40


def test_digits_defaults_tiny_scores_each_bare_run_and_its_reference(tmp_path):
    run_script(
        "experiments/digits_defaults.py", "--tiny", "--quiet", f"--out_dir={tmp_path}"
    )
    result = json.loads((tmp_path / "digits_defaults.json").read_text())
    assert_provenance(result, "experiments/digits_defaults.py --tiny")
    entries = result["digits"]
    assert [(e["digits"], e["recipe"]) for e in entries] == [(1, "d1"), (2, "d2")]
    # 1 digit has no best-d1 row to be timed against; 2 digits has.
    assert entries[0]["reference"] is None
    assert entries[1]["reference"]["config"]["target_on"] == "held_out"
    for entry in entries:
        (run,) = entry["runs"]
        assert run["config"]["digits"] == entry["digits"] and run["epochs_run"] == 1
        assert run["config"]["reverse"] is True
        for suite in ("uniform_10k", "longest_chain", "edge_cases"):
            assert 0 <= run[suite]["correct"] <= run[suite]["n"]
        assert entry["summary"]["seeds"] == 1
    # 2 digits: the problems left once 540 of the 5,050 were trained on.
    assert entries[1]["runs"][0]["uniform_10k"]["n"] == 5050 - 540
    text = (tmp_path / "digits_defaults.md").read_text()
    assert "ref best-d2" in text and "Provenance: commit" in text


def test_seeds_benchmark_tiny_compares_one_program_with_sequential_runs(tmp_path):
    out = tmp_path / "seeds"
    run_script("experiments/seeds_benchmark.py", "--tiny", f"--out={out}")
    report = json.loads(out.with_suffix(".json").read_text())
    assert_provenance(report, "experiments/seeds_benchmark.py --tiny")
    assert [run["seed"] for run in report["sequential"]] == [0, 1]
    programs = report["programs"]
    assert [p["num_seeds"] for p in programs] == [1, 2]
    for p in programs:
        assert p["ratio"] == pytest.approx(p["wall_sec"] / p["sequential_wall_sec"])
        assert 0 <= p["largest_exact_match_difference"] <= 1
        assert len(p["per_seed"]) == p["num_seeds"]
    # Two seeds also run on one CPU device, the layout before a device per seed.
    assert programs[0]["one_device_wall_sec"] is None
    assert programs[1]["one_device_wall_sec"] > 0
    assert "N sequential runs" in out.with_suffix(".md").read_text()


def test_progress_cost_tiny_times_every_variant(tmp_path):
    out = tmp_path / "cost"
    run_script("experiments/progress_cost.py", "--tiny", f"--out={out}")
    report = json.loads(out.with_suffix(".json").read_text())
    assert_provenance(report, "experiments/progress_cost.py --tiny")
    (setting,) = report["settings"].values()
    for variant in ("none", "reports", "every step"):
        assert len(setting["seconds"][variant]) == report["repeats"]
    # A tiny epoch lasts well under half a second: its first and last steps.
    assert setting["reports"]["reports_per_epoch"] == 2
    steps = setting["steps_per_epoch"]
    assert setting["every step"]["reports_per_epoch"] == steps > 2
    assert "every step" in out.with_suffix(".md").read_text()


def test_git_commit_outside_a_checkout_and_dirty(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("no git on this machine")
    assert common.git_commit(tmp_path) == "unknown"
    (tmp_path / ".git").mkdir()  # looks like a checkout, is none: git fails
    assert common.git_commit(tmp_path) == "unknown"
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(
            [
                "git",
                "-C",
                str(repo),
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                *args,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    git("init", "-q")
    (repo / "a.txt").write_text("a\n")
    (repo / "experiments" / "results").mkdir(parents=True)
    (repo / "experiments" / "results" / "r.json").write_text("{}\n")
    git("add", ".")
    git("commit", "-qm", "a")
    head = git("rev-parse", "HEAD")
    # What the scripts write leaves the tree clean: new files, results redone.
    (repo / "untracked.json").write_text("{}\n")
    (repo / "experiments" / "results" / "r.json").write_text('{"x": 1}\n')
    assert common.git_commit(repo) == head
    (repo / "a.txt").write_text("b\n")
    assert common.git_commit(repo) == f"{head}-dirty"
    line = common.provenance_line(
        {"commit": head, "date": "D", "command": "python x.py", "machine": "M"}
    )
    assert line == f"Provenance: commit `{head}`, D, `python x.py`; M."


def test_table_rows_are_the_settings_they_were_before_the_recipes():
    # The rows must train what the table's saved rows trained (the recipes
    # have moved on since: results/digits_defaults.md), stopping as they did.
    from experiments import reproduce_table

    keras = {"reverse_answer": False, "batch_size": 32, "learning_rate": 1e-3}
    keras["hidden_size"] = 128
    keras["lr_schedule"] = "constant"
    common_fields = {"target_accuracy": 0.99, "target_on": "held_out"}
    common_fields["num_samples"] = 0
    best = {
        2: {"batch_size": 32, "learning_rate": 5e-3, "epochs": 40},
        3: {"learning_rate": 1e-2},
        4: {"batch_size": 128, "learning_rate": 1e-2, "epochs": 4},
        5: {"batch_size": 128, "learning_rate": 1e-2, "epochs": 8},
        10: {
            "hidden_size": 256,
            "batch_size": 128,
            "learning_rate": 1e-2,
            "epochs": 13,
            "curriculum_epochs": 4,
            "carry_fraction": 0.2,
        },
    }
    seed = {2: (5_000, 55), 3: (50_000, 100), 4: (400_000, 20), 5: (550_000, 30)}
    sizes = {**{d: size for d, (size, _) in seed.items()}, 10: 500_000}
    expected = {}
    for d, (size, epochs) in seed.items():
        expected[f"keras-d{d}"] = Config(
            digits=d, training_size=size, epochs=epochs, **keras, **common_fields
        )
    expected["sched-d2"] = dataclasses.replace(
        expected["keras-d2"], learning_rate=5e-3, lr_schedule="cosine", epochs=40
    )
    for d in (2, 3, 4, 5):
        expected[f"best-d{d}"] = Config(
            digits=d,
            training_size=sizes[d],
            hidden_size=128,
            **best[d],
            **common_fields,
        )
    for d in (2, 3):
        expected[f"noreverse-d{d}"] = dataclasses.replace(
            expected[f"best-d{d}"], reverse=False, reverse_answer=False
        )
    expected["best-d10"] = Config(
        digits=10, training_size=500_000, **best[10], **common_fields
    )
    rows = reproduce_table.all_rows()
    assert list(rows) == list(expected)
    for name, config in expected.items():
        assert rows[name] == config, name


def test_config_flags_are_jaxadd_mains_and_override_the_base():
    import argparse

    parser = argparse.ArgumentParser()
    common.add_config_flags(parser, lists=("digits",))
    base = Config(batch_size=32, epochs=200)
    args = parser.parse_args([])
    assert common.config_from_args(args, base) == base  # nothing given: the base
    args = parser.parse_args(
        ["--digits=5,7", "--noreverse", "--target_accuracy=0.9", "--epochs=3"]
    )
    assert args.digits == [5, 7]  # a sweep axis, left to the script
    expected = dataclasses.replace(base, reverse=False, target_accuracy=0.9, epochs=3)
    assert common.config_from_args(args, base) == expected
    # A recipe replaces the base; flags given still override it.
    args = parser.parse_args(["--config=d5", "--reverse_answer", "--epochs=2"])
    assert common.config_from_args(args, base) == dataclasses.replace(
        configs.get("d5"), epochs=2
    )
    # Every field has its flag, and enums keep their choices.
    for field in Config.fields():
        assert f"--{field.name}" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--lr_schedule=linear"])


def test_plot_example_tiny_draws_each_seed(tmp_path):
    out = tmp_path / "plot"
    run_script("experiments/plot_example.py", "--tiny", "--num_seeds=2", f"--out={out}")
    report = json.loads(out.with_suffix(".json").read_text())
    assert_provenance(report, "experiments/plot_example.py --tiny")
    assert sorted(report["last_epoch"]) == ["seed_0", "seed_1"]
    assert report["commands"][1] == f"python -m jaxadd.plot runs/add3 --out={out}.png"
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_recipe_speed_tiny_times_each_variant_against_one_peak(tmp_path):
    out = tmp_path / "speed"
    run_script("experiments/recipe_speed.py", "--tiny", f"--out={out}")
    report = json.loads(out.with_suffix(".json").read_text())
    assert_provenance(report, "experiments/recipe_speed.py --tiny")
    variants = [
        (r["batch_size"], r["lstm_backward"], r["devices"]) for r in report["rows"]
    ]
    assert variants == [(16, "manual", 1), (16, "autodiff", 1), (16, "manual", 2)]
    for row in report["rows"]:
        assert row["examples_per_sec"] > 0
        assert row["mfu"] == pytest.approx(
            row["straightforward_flops_per_example"]
            * row["examples_per_sec"]
            / report["matmul_peak_flops"]
        )
    assert "| 16 | autodiff | 1 |" in out.with_suffix(".md").read_text()


def test_wrong_digits_aligns_answers_at_the_units_digit():
    sums = np.array([12, 7386079201, 17782571970, 99, 5])
    guesses = ["12", "7386079211", "17782572971", "1099", "x"]
    exact = np.array([True, False, False, False, False])
    counts = common.wrong_digits(sums, guesses, exact)
    # The tens; the units and thousands; the thousands of 0099; not a number.
    # One count per position of the longest answer, 11 digits.
    assert counts["wrong_at_position"] == [2, 1, 0, 2] + [0] * 7
    assert counts["digits_wrong"] == {"1": 3, "2": 1}


def test_edge_neighbours_families_are_shaped_like_the_edge_cases():
    from experiments import edge_neighbours

    families = edge_neighbours.families(4)
    pairs = {name: set(zip(*operands)) for name, operands in families.items()}
    assert (1000, 1000) in pairs["round pairs"] and len(pairs["round pairs"]) == 81
    plus_one = {(1000, 1001), (1000, 1010), (1000, 1100)}
    assert pairs["round pairs plus a one"] == plus_one | {(b, a) for a, b in plus_one}
    assert {(9999, 9999), (4444, 5555)} <= pairs["full runs"]
    assert len(pairs["full runs"]) == 81
    shorter = pairs["shorter runs"]
    assert {(1, 1), (999, 999), (44, 55), (55, 44)} <= shorter
    assert len(shorter) == 3 * 81 and not shorter & pairs["full runs"]
    assert (4999, 5001) in pairs["nines into a round sum"]
    assert {a + b for a, b in pairs["nines into a round sum"]} == {10_000}
    assert len(pairs["nines into a round sum"]) == 16


def test_edge_neighbours_tiny_scores_each_family_of_a_run(tmp_path):
    workdir = tmp_path / "run"
    run_script(
        "-m",
        "jaxadd.main",
        "--config=tiny",
        "--digits=3",
        "--epochs=1",
        "--training_size=2000",
        f"--workdir={workdir}",
    )
    run_script(
        "experiments/edge_neighbours.py",
        str(workdir),
        str(workdir),
        f"--out_dir={tmp_path}",
        "--stem=neighbours",
    )
    result = json.loads((tmp_path / "neighbours.json").read_text())
    assert_provenance(result, "experiments/edge_neighbours.py")
    first, second = result["runs"]
    assert first == second and first["digits"] == 3 and first["epoch"] == 1
    from experiments import edge_neighbours

    families = edge_neighbours.families(3)
    assert list(first["families"]) == list(families)
    for name, score in first["families"].items():
        # Trained pairs are left out, so a family may shrink, never grow.
        assert 0 <= score["correct"] <= score["n"] <= len(families[name][0])
        wrong = score["n"] - score["correct"]
        assert len(score["wrong"]) == min(wrong, edge_neighbours.SHOWN_WRONG)
    assert "round pairs plus a one" in (tmp_path / "neighbours.md").read_text()
    missing = subprocess.run(
        [sys.executable, "experiments/edge_neighbours.py", str(tmp_path / "none")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
