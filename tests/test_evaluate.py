"""Evaluation suites: bucket membership, no training problems, scoring, the CLI."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import TINY

from jaxadd import carries, checkpoint, data, evaluate, inference, train
from jaxadd.config import Config


def unordered(a, b):
    return set(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist()))


def lengths(x):
    return np.array([len(str(v)) for v in x.tolist()])


@pytest.fixture(scope="module")
def trained_workdir(tmp_path_factory):
    """A tiny two-digit run, answers reversed, kept in a workdir."""
    config = dataclasses.replace(TINY, epochs=1, num_samples=0, reverse_answer=True)
    workdir = str(tmp_path_factory.mktemp("run"))
    train.train_and_evaluate(config, workdir, log=lambda line: None)
    return workdir, config


def test_chain_buckets_hold_exactly_their_chain_and_no_training_problem():
    train_split, _ = data.make_splits(
        num_problems=3000, digits=4, reverse=True, val_fraction=0.1, seed=0
    )
    buckets = evaluate.carry_chain_buckets(4, 200, 0, train_split.a, train_split.b)
    assert [bucket.key for bucket in buckets] == [0, 1, 2, 3, 4]
    trained = unordered(train_split.a, train_split.b)
    for bucket in buckets:
        assert len(bucket) == 200
        assert (carries.longest_carry_chain(bucket.a, bucket.b) == bucket.key).all()
        assert len(unordered(bucket.a, bucket.b)) == 200
        assert not unordered(bucket.a, bucket.b) & trained


def test_small_buckets_hold_every_problem_not_trained_on():
    # One digit: 30 problems with chain 0 and 25 with chain 1, some trained on.
    train_split, _ = data.make_splits(
        num_problems=30, digits=1, reverse=True, val_fraction=0.1, seed=0
    )
    trained = unordered(train_split.a, train_split.b)
    buckets = evaluate.carry_chain_buckets(1, 1000, 0, train_split.a, train_split.b)
    held_out = set().union(*(unordered(b.a, b.b) for b in buckets))
    everything = {(x, y) for x in range(10) for y in range(x, 10)}
    assert held_out == everything - trained
    for bucket in buckets:
        assert len(bucket) == bucket.available


def test_uniform_10k_suite_is_fixed_full_length_and_never_trained_on():
    train_split, _ = data.make_splits(
        num_problems=3000, digits=4, reverse=True, val_fraction=0.1, seed=0
    )
    trained = unordered(train_split.a, train_split.b)
    uniform, edge = evaluate.uniform_10k_suite(4, train_split.a, train_split.b)
    assert (uniform.suite, edge.suite) == ("uniform", "edge_cases")
    assert len(unordered(uniform.a, uniform.b)) == len(uniform) == 10_000
    assert not unordered(uniform.a, uniform.b) & trained
    assert np.mean(np.minimum(uniform.a, uniform.b) >= 1000) > 0.75
    # Fixed: the same problems every time, whatever the run's own seed.
    again, _ = evaluate.uniform_10k_suite(4, train_split.a, train_split.b)
    np.testing.assert_array_equal(uniform.a, again.a)
    np.testing.assert_array_equal(uniform.b, again.b)
    # Two digits: all 5,050 problems are fewer than 10,000; the untrained ones.
    small_train, _ = data.make_splits(
        num_problems=600, digits=2, reverse=True, val_fraction=0.1, seed=0
    )
    small, _ = evaluate.uniform_10k_suite(2, small_train.a, small_train.b)
    assert len(small) == 5050 - 540


def test_length_buckets_hold_exactly_their_lengths():
    train_split, _ = data.make_splits(
        num_problems=5000, digits=3, reverse=True, val_fraction=0.1, seed=0
    )
    trained = unordered(train_split.a, train_split.b)
    buckets = evaluate.operand_length_buckets(3, 150, 1, train_split.a, train_split.b)
    assert [b.key for b in buckets] == [(1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (3, 3)]
    for bucket in buckets:
        pairs = np.sort(np.stack([lengths(bucket.a), lengths(bucket.b)], 1), 1)
        assert (pairs == bucket.key).all()
        assert len(bucket) == min(150, bucket.available)
        assert not unordered(bucket.a, bucket.b) & trained
    assert len(buckets[0]) == 55 - len([p for p in trained if p[0] < 10 and p[1] < 10])
    # Addition commutes but the model reads a+b and b+a differently: both come.
    short_first = lengths(buckets[2].a) == 1
    assert 0 < short_first.mean() < 1


def test_suites_depend_only_on_the_seed():
    first = evaluate.build_suites(3, 50, seed=4)
    second = evaluate.build_suites(3, 50, seed=4)
    other = evaluate.build_suites(3, 50, seed=5)
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x.a, y.a)
        np.testing.assert_array_equal(x.b, y.b)
    assert not np.array_equal(first[1].a, other[1].a)
    with pytest.raises(ValueError, match="per_bucket"):
        evaluate.build_suites(3, 0)


def test_edge_cases_and_their_chains():
    a, b = data.edge_cases(4)
    cases = dict(zip(zip(a.tolist(), b.tolist()), carries.longest_carry_chain(a, b)))
    assert cases[(0, 0)] == 0
    assert cases[(9999, 9999)] == 1
    assert cases[(4999, 5001)] == cases[(5001, 4999)] == 4
    assert cases[(4444, 5555)] == 0
    for k in range(1, 5):
        assert cases[(10**k - 1, 1)] == cases[(1, 10**k - 1)] == k
    assert len(cases) == len(a)  # no ordered duplicates
    trained = np.array([0, 99]), np.array([0, 1])
    bucket = evaluate.edge_case_bucket(4, *trained)
    assert "0+0" not in bucket.labels and "1+99" not in bucket.labels
    assert "9999+1" in bucket.labels


@pytest.mark.parametrize("digits", [1, 3, 10])
def test_reversed_answer_round_trips(digits):
    rng = np.random.default_rng(digits)
    sums = np.concatenate(
        [[0, 1, 10, 10**digits, 2 * 10**digits - 2], rng.integers(0, 10**digits, 200)]
    )
    for reverse_answer in (False, True):
        ids = data.encode_answers(sums, digits, reverse_answer)
        assert inference.decode_answers(ids, reverse_answer) == [str(s) for s in sums]
    reversed_text = data.decode(data.encode_answers(np.array([120]), 3, True))
    assert reversed_text == ["021 "]


def oracle(config: Config, wrong: bool = False):
    """A stand-in for the network that reads the query and adds (or not)."""

    def predict(params, queries):
        width = data.query_len(config.digits, config.leading_pads)
        assert queries.shape[1] == width, "queries not in the run's layout"
        asked = queries[(queries == data.PLUS_ID).any(axis=1)]  # not chunk padding
        assert (asked[:, : config.leading_pads] == data.PAD_ID).all()
        if config.leading_zeros:
            assert (asked[:, config.leading_pads :] != data.PAD_ID).all()
        texts = data.decode(queries)
        if config.reverse:
            texts = [t[::-1] for t in texts]
        # Rows padding the last chunk are all zeros, no "+": answer anything.
        a, b = np.array(
            [
                [int(x) for x in t.strip().split("+")] if "+" in t else [0, 0]
                for t in texts
            ]
        ).T
        sums = a + b + (1 if wrong else 0)
        ids = data.encode_answers(sums, config.digits, config.reverse_answer)
        # As make_predict_fn's: one probability per row (certain, here).
        return ids, np.ones(len(ids), np.float32)

    return lambda model: predict


@pytest.mark.parametrize(
    "reverse, reverse_answer, leading_pads, leading_zeros",
    [(True, True, 0, 0), (True, False, 0, 0), (False, True, 0, 0)]
    + [(False, False, 0, 0), (True, True, 2, 0), (False, False, 1, 0)]
    + [(True, True, 2, 1), (False, True, 0, 1)],
)
def test_scores_of_a_perfect_and_a_wrong_model(
    monkeypatch, reverse, reverse_answer, leading_pads, leading_zeros
):
    config = Config(
        digits=3,
        reverse=reverse,
        reverse_answer=reverse_answer,
        leading_pads=leading_pads,
        leading_zeros=bool(leading_zeros),
    )
    buckets = evaluate.build_suites(3, 40, seed=0)
    monkeypatch.setattr(evaluate, "_predict_fn", oracle(config))
    report = evaluate.score_buckets(config, None, buckets)
    rows = report["carry_chain"] + report["operand_lengths"]
    rows += [report["uniform"], report["edge_cases"]]
    assert all(row["accuracy"] == 1.0 for row in rows)
    assert report["longest_chain_accuracy"] == report["uniform_accuracy"] == 1.0
    for case in report["edge_cases"]["cases"]:
        assert case["predicted"] == case["answer"] == str(eval(case["problem"]))

    monkeypatch.setattr(evaluate, "_predict_fn", oracle(config, wrong=True))
    report = evaluate.score_buckets(config, None, buckets)
    assert report["uniform_accuracy"] == report["longest_chain_accuracy"] == 0.0


def test_evaluate_workdir_end_to_end(trained_workdir):
    workdir, config = trained_workdir
    before = sorted(os.listdir(workdir))
    metrics = open(os.path.join(workdir, "metrics.jsonl")).read()
    report = evaluate.evaluate_workdir(workdir, per_bucket=30, seed=0)
    assert sorted(os.listdir(workdir)) == sorted(before + ["evaluation.json"])
    assert open(os.path.join(workdir, "metrics.jsonl")).read() == metrics
    saved = json.loads(open(os.path.join(workdir, "evaluation.json")).read())
    assert saved == json.loads(json.dumps(report))
    assert report["epoch"] == 1 and report["config"] == config.to_dict()
    assert [row["chain"] for row in report["carry_chain"]] == [0, 1, 2]
    assert len(report["operand_lengths"]) == 3
    for row in report["carry_chain"] + report["operand_lengths"]:
        assert row["n"] == min(30, row["available"])
        assert row["accuracy"] is None or 0.0 <= row["accuracy"] <= 1.0
    for case in report["edge_cases"]["cases"]:
        assert case["correct"] == (case["predicted"] == case["answer"])
    lines = evaluate.format_report(report)
    assert lines[0].startswith("longest carry chain")
    assert any(line.startswith("uniform operands") for line in lines)


def test_training_problems_are_the_runs(trained_workdir):
    workdir, config = trained_workdir
    a, b = evaluate.training_problems(config)
    assert len(a) == config.num_train
    report = evaluate.evaluate_workdir(workdir, per_bucket=10, write=False)
    assert report["edge_cases"]["in_training"] == sorted(
        f"{x}+{y}"
        for x, y in zip(*data.edge_cases(2))
        if (min(x, y), max(x, y)) in unordered(a, b)
    )


def test_cli_prints_the_table(trained_workdir):
    workdir, _ = trained_workdir
    result = subprocess.run(
        [sys.executable, "-m", "jaxadd.evaluate", f"--workdir={workdir}"]
        + ["--per_bucket=20", "--seed=3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "longest carry chain" in result.stdout
    assert "edge cases" in result.stdout
    saved = json.loads(open(os.path.join(workdir, "evaluation.json")).read())
    assert saved["seed"] == 3 and saved["per_bucket"] == 20


def test_cli_uniform_10k_suite_is_fixed_and_has_its_own_file(trained_workdir, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(trained_workdir[0], workdir)
    (workdir / "evaluation.json").unlink(missing_ok=True)  # an earlier test's
    command = [sys.executable, "-m", "jaxadd.evaluate", f"--workdir={workdir}"]
    result = subprocess.run(
        command + ["--suite=uniform-10k"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "suite uniform-10k" in result.stdout
    assert "longest carry chain" not in result.stdout
    assert not (workdir / "evaluation.json").exists()
    saved = json.loads((workdir / "evaluation_uniform_10k.json").read_text())
    fixed = (saved["suite"], saved["seed"], saved["per_bucket"])
    assert fixed == ("uniform-10k", 0, 10_000)
    # Two digits: fewer than 10,000 problems exist; all those not trained on.
    assert saved["uniform"]["n"] == 5050 - trained_workdir[1].num_train
    assert saved["carry_chain"] == [] and saved["edge_cases"]["n"] > 0
    for flag in ("--seed=1", "--per_bucket=5"):
        refused = subprocess.run(
            command + ["--suite=uniform-10k", flag],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 1
        assert refused.stderr == (
            "jaxadd.evaluate: error: --suite=uniform-10k is fixed: it takes no "
            "--per_bucket, --seed\n"
        )


@pytest.mark.parametrize("kind", ["missing", "corrupt_config", "no_checkpoint"])
def test_cli_bad_workdir_exits_with_one_clear_line(tmp_path, kind):
    workdir = tmp_path / "run"
    if kind != "missing":
        workdir.mkdir()
        text = (
            "{not json"
            if kind == "corrupt_config"
            else json.dumps({"config": TINY.to_dict()})
        )
        (workdir / "config.json").write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "jaxadd.evaluate", f"--workdir={workdir}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert result.stderr.startswith("jaxadd.evaluate: error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout


def test_unreadable_checkpoints_are_refused(trained_workdir, tmp_path):
    workdir, _ = trained_workdir
    broken = tmp_path / "broken"
    shutil.copytree(workdir, broken)
    for root, _, files in os.walk(broken / "checkpoints"):
        for name in files:
            with open(os.path.join(root, name), "w") as f:
                f.write("garbage")
    with pytest.raises(checkpoint.WorkdirError, match="no readable checkpoint"):
        evaluate.evaluate_workdir(str(broken), per_bucket=10)
