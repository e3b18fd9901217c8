"""The carry-chain chart and the reversal ablation run end to end, tiny."""

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments import carry_eval_chart  # noqa: E402


def fake_report(digits: int, reverse: bool, reverse_answer: bool) -> dict:
    chains = [
        {"chain": k, "n": 10, "accuracy": 1.0 - k / (digits + 1)}
        for k in range(digits + 1)
    ]
    chains[0]["accuracy"] = None  # an empty bucket has no bar
    return {
        "digits": digits,
        "config": {"reverse": reverse, "reverse_answer": reverse_answer},
        "carry_chain": chains,
        "uniform": {"accuracy": 0.99},
    }


def test_chart_draws_one_bar_group_per_chain(tmp_path):
    pytest.importorskip("matplotlib")
    paths = []
    for i, report in enumerate([fake_report(3, True, False), fake_report(5, 0, 1)]):
        paths.append(tmp_path / f"evaluation{i}.json")
        paths[-1].write_text(json.dumps(report))
    out = tmp_path / "chart.png"
    assert carry_eval_chart.main([*map(str, paths), f"--out={out}"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 1000
    labels = [carry_eval_chart.run_label(fake_report(3, True, True))]
    assert labels == ["3 digits, both reversed"]
    assert carry_eval_chart.main([str(paths[0]), "--labels=a,b", f"--out={out}"])
    assert carry_eval_chart.main([str(tmp_path / "missing.json"), f"--out={out}"])


def test_reverse_ablation_tiny_writes_its_table(tmp_path):
    # A process of its own: the script turns on jax's persistent compilation
    # cache, a global setting this test process must not inherit.
    result = subprocess.run(
        [
            sys.executable,
            "experiments/reverse_ablation.py",
            "--tiny",
            "--quiet",
            f"--out_dir={tmp_path}",
            f"--workdir_root={tmp_path / 'runs' / 'reverse_ablation'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    result = json.loads((tmp_path / "reverse_ablation_tiny.json").read_text())
    assert result["machine"]["cores"] and result["machine"]["backend"]
    assert result["provenance"]["commit"]
    assert "experiments/reverse_ablation.py" in result["provenance"]["command"]
    rows = result["rows"]
    assert [(r["reverse"], r["reverse_answer"]) for r in rows] == [
        (True, False),
        (False, True),
        (True, True),
        (False, False),
    ]
    for row in rows:
        assert row["epochs_run"] == 1
        assert 0.0 <= row["uniform_accuracy"] <= 1.0
        assert 0.0 <= row["longest_chain_accuracy"] <= 1.0
        assert pathlib.Path(row["workdir"], "evaluation.json").exists()
    table = (tmp_path / "reverse_ablation_tiny.md").read_text()
    assert "longest-chain exact %" in table and "Machine:" in table
    assert "Provenance: commit" in table
    assert "| 1 | neither |" in table
