"""`python -m jaxadd.predict`: answers from a trained workdir, bad input refused."""

import json
import pathlib
import pickle
import re
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxadd import checkpoint, data, inference, predict, train
from jaxadd.config import Config

# Learns two-digit addition to about 80% exact in eight short epochs; answers
# reversed, so predict must take reverse_answer from the workdir to decode them.
LEARNS = Config(
    digits=2,
    training_size=5_000,
    epochs=8,
    batch_size=64,
    hidden_size=128,
    learning_rate=1e-2,
    lr_schedule="cosine",
    reverse_answer=True,
    num_samples=0,
)
# Share of its training problems the model must answer right (about 0.8 when
# this was written; chance is about 0.001, and a wrong reversal or encoding in
# predict drops it to about that).
MIN_TRAIN_ACCURACY = 0.6


def run_predict(*args: str, stdin: str | bytes | None = None, timeout: float = 120):
    text = not isinstance(stdin, bytes)
    result = subprocess.run(
        [sys.executable, "-m", "jaxadd.predict", *args],
        input=stdin if stdin is not None else ("" if text else b""),
        capture_output=True,
        text=text,
        timeout=timeout,
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in (output if text else output.decode(errors="replace"))
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A workdir written by a real training run, its training split and answers."""
    workdir = tmp_path_factory.mktemp("predict") / "run"
    result = train.train_and_evaluate(LEARNS, str(workdir), log=lambda line: None)
    train_split, _ = data.make_splits(
        num_problems=LEARNS.training_size,
        digits=LEARNS.digits,
        reverse=LEARNS.reverse,
        val_fraction=LEARNS.val_fraction,
        seed=LEARNS.seed,
        reverse_answer=LEARNS.reverse_answer,
    )
    # What the training code itself answers with the final parameters.
    ids, _ = inference.make_predict_fn(train.make_model(LEARNS))(
        result["params"], train_split.queries
    )
    expected = inference.decode_answers(np.asarray(ids), LEARNS.reverse_answer)
    return workdir, train_split, expected


def test_predictor_asks_in_the_runs_query_layout(monkeypatch):
    seen = []

    def make_predict_fn(model):
        def predict(params, queries):
            seen.extend(data.decode(np.asarray(queries)))
            rows = len(queries)
            return np.zeros((rows, data.answer_len(3)), np.int32), np.ones(rows)

        return predict

    monkeypatch.setattr(inference, "make_predict_fn", make_predict_fn)
    predictor = predict.Predictor(Config(digits=3, leading_pads=2), None, rows=2)
    predictor(np.array([12]), np.array([345]))
    assert seen[0] == "   543+21"
    zeros = Config(digits=3, leading_pads=2, leading_zeros=True)
    predict.Predictor(zeros, None, rows=2)(np.array([12]), np.array([345]))
    assert seen[-2] == "  543+210"  # the chunk's second row pads it


def problems_text(split: data.Split) -> str:
    return "".join(f"{a}+{b}\n" for a, b in zip(split.a, split.b))


@pytest.mark.parametrize(
    "text,digits,operands",
    [
        ("535+61", 3, (535, 61)),
        ("  12+7\r\n", 2, (12, 7)),
        ("007+3", 1, (7, 3)),  # leading zeros dropped while the value fits
        ("000+0", 1, (0, 0)),
        ("99+99", 2, (99, 99)),
        ("0" * 5000 + "1+2", 1, (1, 2)),
    ],
)
def test_parse_problem_accepts(text, digits, operands):
    assert predict.parse_problem(text, digits) == operands


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "empty problem"),
        ("   \n", "empty problem"),
        ("-5+3", "negative numbers"),
        ("5+-3", "negative numbers"),
        ("5-3", "negative numbers and subtraction"),
        ("1+2+3", "more than one '+'"),
        ("12", "no '+'"),
        ("+5", "no number before the '+'"),
        ("5+", "no number after the '+'"),
        ("1 + 2", "spaces inside"),
        ("1a+2", "invalid character 'a'"),
        ("1.5+2", "invalid character '.'"),
        ("1_0+2", "invalid character '_'"),  # int() would take it
        ("١+2", "invalid character"),  # a non-ASCII digit int() would take
        ("100+1", "'100' has 3 digits; the model was trained on at most 2"),
        ("1+0100", "'100' has 3 digits"),
    ],
)
def test_parse_problem_refuses_with_one_line(text, message):
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        predict.parse_problem(text, 2)
    assert "\n" not in str(error.value)


def test_long_bad_input_is_quoted_short():
    with pytest.raises(ValueError) as error:
        predict.parse_problem("x" * 10_000, 2)
    assert len(str(error.value)) < 120


def test_answers_match_the_sums_of_the_learned_problems(trained):
    workdir, split, expected = trained
    # A batch much smaller than the input: several batches, the last padded.
    result = run_predict(
        f"--workdir={workdir}", "--batch_size=1000", stdin=problems_text(split)
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    answers = result.stdout.splitlines()
    # Exactly what the training code answers with the same parameters ...
    assert answers == expected
    # ... and that is mostly right.
    truth = [str(s) for s in split.a + split.b]
    accuracy = np.mean([x == y for x, y in zip(answers, truth)])
    assert accuracy >= MIN_TRAIN_ACCURACY


def test_problem_arguments_and_confidence(trained):
    workdir, split, expected = trained
    problems = [f"{a}+{b}" for a, b in zip(split.a[:5], split.b[:5])]
    result = run_predict(f"--workdir={workdir}", *problems)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == expected[:5]

    result = run_predict(f"--workdir={workdir}", "--show_confidence", *problems)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" ")[0] for line in lines] == expected[:5]
    for line in lines:
        assert re.fullmatch(r"\d+ [01]\.\d{4}", line), line
        assert 0.0 < float(line.split(" ")[1]) <= 1.0


def test_bad_problem_arguments_answer_nothing(trained):
    workdir, _, _ = trained
    bad = ["-5+3", "1+2+3", "1 +2", "a+1", "+5", "5+", "123+1", ""]
    result = run_predict(f"--workdir={workdir}", "1+2", *bad)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == len(bad)
    assert all(line.startswith("jaxadd.predict: error: ") for line in lines)
    for line, fragment in zip(
        lines,
        [
            "negative numbers",
            "more than one '+'",
            "spaces inside",
            "invalid character 'a'",
            "no number before",
            "no number after",
            "'123' has 3 digits; the model was trained on at most 2",
            "empty problem",
        ],
    ):
        assert fragment in line


def test_stdin_reports_bad_lines_and_answers_the_good_ones(trained):
    workdir, split, expected = trained
    good = [f"{a}+{b}" for a, b in zip(split.a[:4], split.b[:4])]
    lines = [
        good[0].encode(),
        b"-1+2",  # 2
        b"",  # 3
        good[1].encode() + b"\r",  # Windows line end: fine
        b"  " + good[2].encode() + b"  ",  # surrounding spaces: fine
        b"\xff+1",  # 6: not UTF-8
        b"100+1",  # 7: too many digits
        b"1+2+3",  # 8
        good[3].encode(),
    ]
    result = run_predict(
        f"--workdir={workdir}", "--batch_size=2", stdin=b"\n".join(lines) + b"\n"
    )
    assert result.returncode == 1
    assert result.stdout.decode().splitlines() == expected[:4]
    errors = result.stderr.decode().splitlines()
    assert [line.split(":")[0] for line in errors[:-1]] == [
        "line 2",
        "line 3",
        "line 6",
        "line 7",
        "line 8",
    ]
    assert "negative numbers" in errors[0]
    assert "empty problem" in errors[1]
    assert "invalid character" in errors[2]
    assert "has 3 digits" in errors[3]
    assert "more than one '+'" in errors[4]
    assert errors[-1] == "jaxadd.predict: error: 5 bad line(s) not answered"


def test_empty_stdin_answers_nothing(trained):
    workdir, _, _ = trained
    result = run_predict(f"--workdir={workdir}", stdin="")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def _damage(checkpoint_dir: pathlib.Path) -> None:
    for path in (checkpoint_dir / "state").rglob("*"):
        if path.is_file():
            path.write_bytes(path.read_bytes()[:10])


def _workdir_case(case: str, trained_workdir: pathlib.Path, tmp: pathlib.Path):
    """Builds a broken workdir; returns (flags, expected message fragment)."""
    workdir = tmp / "run"
    if case == "no --workdir":
        return [], "--workdir is required"
    if case == "bad --batch_size":
        return [f"--workdir={trained_workdir}", "--batch_size=0"], "batch_size"
    if case == "unknown flag":
        return [f"--workdir={trained_workdir}", "--digits=3"], "digits"
    if case == "missing":
        return [f"--workdir={workdir}"], "does not exist"
    if case == "not a run":
        workdir.mkdir()
        return [f"--workdir={workdir}"], "no config.json"
    shutil.copytree(trained_workdir, workdir)
    if case == "corrupt config":
        (workdir / "config.json").write_text('{"config": {"digits": ')
        return [f"--workdir={workdir}"], "config.json is unreadable or corrupt"
    if case == "no checkpoints":
        shutil.rmtree(workdir / "checkpoints")
        return [f"--workdir={workdir}"], "has no checkpoints"
    if case == "all checkpoints damaged":
        for checkpoint_dir in (workdir / "checkpoints").iterdir():
            _damage(checkpoint_dir)
        return [f"--workdir={workdir}"], "no readable checkpoint"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "no --workdir",
        "bad --batch_size",
        "unknown flag",
        "missing",
        "not a run",
        "corrupt config",
        "no checkpoints",
        "all checkpoints damaged",
    ],
)
def test_unusable_workdir_or_flags_is_one_error_line(case, trained, tmp_path):
    flags, fragment = _workdir_case(case, trained[0], tmp_path)
    result = run_predict(*flags, "1+2")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("jaxadd.predict: error: ")
    assert fragment in lines[0]


def test_damaged_newest_checkpoint_falls_back_with_a_warning(trained, tmp_path):
    trained_workdir, split, _ = trained
    workdir = tmp_path / "run"
    shutil.copytree(trained_workdir, workdir)
    newest = max(int(p.name) for p in (workdir / "checkpoints").iterdir())
    _damage(workdir / "checkpoints" / str(newest))
    result = run_predict(f"--workdir={workdir}", f"{split.a[0]}+{split.b[0]}")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"\d+\n", result.stdout)
    assert result.stderr.startswith(
        f"jaxadd.predict: warning: Checkpoint of epoch {newest} is unreadable"
    )
    # Only read: the damaged checkpoint is still there, as it was.
    assert (workdir / "checkpoints" / str(newest)).is_dir()


def test_loading_unpickles_nothing(trained, monkeypatch):
    workdir, _, _ = trained

    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint was unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    config, params, epoch = checkpoint.load_run(str(workdir))
    assert config == LEARNS
    assert epoch == LEARNS.epochs
    info = json.loads((workdir / "config.json").read_text())
    assert sum(x.size for x in jax.tree.leaves(params)) == info["num_params"]
