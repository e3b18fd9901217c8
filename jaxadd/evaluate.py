"""Evaluation suites beyond the held-out split: carry chains, lengths, edge cases.

A uniform test set almost never holds a long carry chain (see ``carries``), so a
model can score 99% on it and fail every ``99999+1``. This module builds, from a
seed, sets of problems the run never trained on and scores exact match on each::

    python -m jaxadd.evaluate --workdir=runs/add3 [--per_bucket=1000] [--seed=0]

prints one table and writes ``runs/add3/evaluation.json``. The suites:

- ``carry_chain``: one bucket per longest carry chain ``k = 0..digits`` (a
  column whose digits sum to 10 or more and the columns summing to 9 after it,
  ``carries.longest_carry_chain``),
  each uniform over the problems with that chain, built directly.
- ``operand_lengths``: one bucket per unordered pair of operand lengths
  ``{len(a), len(b)}`` (``digits * (digits + 1) / 2`` of them; addition commutes
  and training never holds both ``a+b`` and ``b+a``), each operand uniform
  among the numbers of its length, the order of the two a coin flip.
- ``uniform``: operands uniform in ``[0, 10**digits)``.
- ``edge_cases``: 0+0, 0 and the maximum, all nines of every length,
  ``10**k - 1 + 1`` both ways for every ``k``, and a few carry traps.

``--suite=uniform-10k`` scores the fixed protocol of the public addition
results instead: 10,000 uniform problems drawn with suite seed 0 and the edge
cases (``uniform_10k_suite``), into ``evaluation_uniform_10k.json``.

Every bucket holds ``per_bucket`` distinct unordered problems, or all that exist
when fewer do, and never a problem of the run's training split (matched as an
unordered pair; the split is rebuilt from the run's config). The validation
split may overlap: the run never trained on it.

The table marks each edge case ``☑`` (right) or ``☒`` (wrong), or ``ok`` and
``XX`` where standard output's encoding has no such characters (e.g.
``PYTHONIOENCODING=ascii``).

Every fault is one line on stderr, ``jaxadd.evaluate: error: ...``, and exit
code 1, never a traceback (the codes are ``jaxadd.cli``'s: 0 done, 1 an error,
130 SIGINT, 143 SIGTERM): a bad flag (absl's own errors included, and
``--seed`` outside ``0..2147483647``), a missing, damaged or unreadable workdir
or one that is not a directory, a ``--per_bucket`` whose suites would not fit
in the memory available (``memory_needed``, checked before anything is built),
a workdir where ``evaluation.json`` cannot be written (read-only, checked
before the suites are built; a full disk, after: no ``evaluation.json.tmp`` is
left), and a standard output that is closed, full or a closed pipe. Ctrl-C or
SIGTERM ends the program at once with one line and 130 (143), never in the
middle of writing ``evaluation.json``: it is the new one, whole, or the old.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jaxadd import carries, cli, data
from jaxadd.config import Config

PROG = "jaxadd.evaluate"
DEFAULT_PER_BUCKET = 1000
UNIFORM_10K_SIZE = 10_000
# --suite: every suite above, or the fixed uniform-10k one; each its own file.
SUITES = ("all", "uniform-10k")
REPORT_FILES = {"all": "evaluation.json", "uniform-10k": "evaluation_uniform_10k.json"}
MAX_SEED = 2**31 - 1
# The edge cases' marks in the table, (right, wrong), and where stdout's
# encoding lacks them.
MARKS = ("☑", "☒")
ASCII_MARKS = ("ok", "XX")
# Bytes per problem, as (fixed, per digit of the operands), measured with
# tracemalloc (numpy's arrays and Python's strings): scoring at 3 to 10 digits,
# drawing at 3 to 12.
# Scoring holds every problem at once: operands (int64), pair keys, query and
# answer ids (int32) and their padded chunks, the predicted ids, and each
# answer decoded as a Python string (most of it).
_SCORE_BYTES = (200, 20)
# Drawing one bucket holds, besides it, the over-drawn candidates (twice the
# need), their keys, np.unique's sorted copies and indices, np.isin's and the
# carry-chain sampler's temporaries.
_DRAW_BYTES = (300, 15)


@dataclasses.dataclass(frozen=True)
class Bucket:
    """Problems ``a[i] + b[i]`` of one kind.

    Attributes:
      suite: ``carry_chain``, ``operand_lengths``, ``uniform`` or ``edge_cases``.
      key: the bucket within its suite: the chain length, the pair of operand
        lengths ``(shorter, longer)``, or ``None``.
      a: first operands, int64.
      b: second operands, int64.
      available: distinct unordered problems of this kind outside the training
        split (so ``len(a) < per_bucket`` means the bucket holds them all).
      labels: ``"a+b"`` per problem for edge cases, else empty.
    """

    suite: str
    key: Any
    a: np.ndarray
    b: np.ndarray
    available: int
    labels: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.a)


def _operand_lengths(x: np.ndarray) -> np.ndarray:
    return np.char.str_len(np.asarray(x, np.int64).astype(str)).astype(np.int64)


def _training_keys(
    train_a: np.ndarray | None, train_b: np.ndarray | None, digits: int
) -> np.ndarray | None:
    """Sorted keys of the training pairs, as ``data.draw_unique`` excludes them."""
    if train_a is None:
        return None
    return np.unique(data.pair_keys(train_a, train_b, digits))


def _numbers_of_length(length: int) -> tuple[int, int]:
    """``[low, high)`` of the numbers written with ``length`` digits (0 has one)."""
    return (0 if length == 1 else 10 ** (length - 1)), 10**length


def _problems_of_lengths(short: int, long: int) -> int:
    """Distinct unordered problems whose operands have these lengths."""
    low_s, high_s = _numbers_of_length(short)
    low_l, high_l = _numbers_of_length(long)
    n_s, n_l = high_s - low_s, high_l - low_l
    return n_s * n_l if short < long else n_s * (n_s + 1) // 2


def carry_chain_buckets(
    digits: int,
    per_bucket: int,
    seed: int,
    train_a: np.ndarray | None = None,
    train_b: np.ndarray | None = None,
) -> list[Bucket]:
    """One bucket per longest carry chain ``0..digits``, without training problems.

    Args:
      digits: largest number of digits of an operand.
      per_bucket: distinct problems per bucket (fewer only if fewer exist).
      seed: seeds the draws; bucket ``k`` has a generator of its own.
      train_a: first operands of the training split, to exclude.
      train_b: their second operands.

    Returns:
      ``digits + 1`` buckets; in bucket ``k`` every problem has chain exactly ``k``.
    """
    exclude, train_chains = _training_chains(train_a, train_b, digits)
    return [
        _chain_bucket(digits, chain, per_bucket, seed, exclude, train_chains)
        for chain in range(digits + 1)
    ]


def carry_chain_bucket(
    digits: int,
    chain: int,
    per_bucket: int,
    seed: int,
    train_a: np.ndarray | None = None,
    train_b: np.ndarray | None = None,
) -> Bucket:
    """The bucket of ``carry_chain_buckets`` whose problems all have chain ``chain``."""
    exclude, train_chains = _training_chains(train_a, train_b, digits)
    return _chain_bucket(digits, chain, per_bucket, seed, exclude, train_chains)


def _training_chains(
    train_a: np.ndarray | None, train_b: np.ndarray | None, digits: int
) -> tuple[np.ndarray | None, np.ndarray]:
    """The training pairs' sorted keys, and each training problem's longest chain."""
    if train_a is None:
        return None, np.zeros(0, np.int64)
    keys = _training_keys(train_a, train_b, digits)
    return keys, carries.longest_carry_chain(train_a, train_b)


def _chain_bucket(
    digits: int,
    chain: int,
    per_bucket: int,
    seed: int,
    exclude: np.ndarray | None,
    train_chains: np.ndarray,
) -> Bucket:
    available = carries.count_unordered(digits, chain) - int(
        np.sum(train_chains == chain)
    )
    rng = np.random.default_rng([seed, 0, chain])

    def draw(n):
        return carries.sample_with_chain(rng, n, digits, chain)

    a, b = data.draw_unique(draw, min(per_bucket, available), digits, exclude=exclude)
    return Bucket("carry_chain", chain, a, b, available)


def operand_length_buckets(
    digits: int,
    per_bucket: int,
    seed: int,
    train_a: np.ndarray | None = None,
    train_b: np.ndarray | None = None,
) -> list[Bucket]:
    """One bucket per unordered pair of operand lengths, without training problems.

    Args: as ``carry_chain_buckets``.

    Returns:
      Buckets keyed ``(shorter, longer)`` for ``1 <= shorter <= longer <= digits``.
    """
    exclude = _training_keys(train_a, train_b, digits)
    train_lengths = np.zeros((0, 2), np.int64)
    if train_a is not None:
        train_lengths = np.sort(
            np.stack([_operand_lengths(train_a), _operand_lengths(train_b)], 1), 1
        )
    buckets = []
    for short in range(1, digits + 1):
        for long in range(short, digits + 1):
            low_s, high_s = _numbers_of_length(short)
            low_l, high_l = _numbers_of_length(long)
            possible = _problems_of_lengths(short, long)
            in_train = int(
                np.sum((train_lengths[:, 0] == short) & (train_lengths[:, 1] == long))
            )
            available = possible - in_train
            rng = np.random.default_rng([seed, 1, short, long])

            def draw(n, rng=rng, s=(low_s, high_s), lg=(low_l, high_l)):
                x = rng.integers(*s, size=n, dtype=np.int64)
                y = rng.integers(*lg, size=n, dtype=np.int64)
                # The model reads a+b and b+a differently: either comes first.
                swap = rng.random(n) < 0.5
                return np.where(swap, y, x), np.where(swap, x, y)

            a, b = data.draw_unique(
                draw, min(per_bucket, available), digits, exclude=exclude
            )
            buckets.append(Bucket("operand_lengths", (short, long), a, b, available))
    return buckets


def uniform_bucket(
    digits: int,
    per_bucket: int,
    seed: int,
    train_a: np.ndarray | None = None,
    train_b: np.ndarray | None = None,
) -> Bucket:
    """Operands uniform in ``[0, 10**digits)``, without training problems."""
    exclude = _training_keys(train_a, train_b, digits)
    available = data.max_unique_problems(digits) - (
        0 if train_a is None else len(train_a)
    )
    rng = np.random.default_rng([seed, 2])

    def draw(n):
        return rng.integers(0, 10**digits, size=(2, n), dtype=np.int64)

    a, b = data.draw_unique(draw, min(per_bucket, available), digits, exclude=exclude)
    return Bucket("uniform", None, a, b, available)


def edge_case_bucket(
    digits: int, train_a: np.ndarray | None = None, train_b: np.ndarray | None = None
) -> Bucket:
    """``data.edge_cases(digits)`` less those whose unordered pair was trained on."""
    a, b = data.edge_cases(digits)
    if train_a is not None:
        trained = data.pair_keys(train_a, train_b, digits)
        keep = ~np.isin(data.pair_keys(a, b, digits), trained)
        a, b = a[keep], b[keep]
    labels = tuple(f"{x}+{y}" for x, y in zip(a.tolist(), b.tolist()))
    return Bucket("edge_cases", None, a, b, len(a), labels)


def build_suites(
    digits: int,
    per_bucket: int = DEFAULT_PER_BUCKET,
    seed: int = 0,
    train_a: np.ndarray | None = None,
    train_b: np.ndarray | None = None,
) -> list[Bucket]:
    """Every bucket of every suite (see the module docstring), in table order."""
    if per_bucket <= 0:
        raise ValueError(f"per_bucket must be > 0, got {per_bucket}")
    args = (digits, per_bucket, seed, train_a, train_b)
    return [
        *carry_chain_buckets(*args),
        *operand_length_buckets(*args),
        uniform_bucket(*args),
        edge_case_bucket(digits, train_a, train_b),
    ]


def uniform_10k_suite(
    digits: int, train_a: np.ndarray | None = None, train_b: np.ndarray | None = None
) -> list[Bucket]:
    """The fixed uniform-10k suite: the protocol public addition results use.

    ``UNIFORM_10K_SIZE`` distinct problems with operands uniform in
    ``[0, 10**digits)``, always drawn with suite seed 0 (fewer where fewer are
    left once the training problems are taken out), then the edge cases. The
    public 10-digit small-transformer results score 10,000 uniform pairs plus
    edge cases, so figures on this suite compare with theirs line for line.
    """
    return [
        uniform_bucket(digits, UNIFORM_10K_SIZE, 0, train_a, train_b),
        edge_case_bucket(digits, train_a, train_b),
    ]


def suite_buckets(
    suite: str,
    digits: int,
    per_bucket: int = DEFAULT_PER_BUCKET,
    seed: int = 0,
    train_a: np.ndarray | None = None,
    train_b: np.ndarray | None = None,
) -> list[Bucket]:
    """``build_suites`` for ``suite="all"``; ``uniform_10k_suite``, which takes
    neither ``per_bucket`` nor ``seed``, for ``"uniform-10k"``."""
    if suite == "uniform-10k":
        return uniform_10k_suite(digits, train_a, train_b)
    return build_suites(digits, per_bucket, seed, train_a, train_b)


def bucket_sizes(digits: int, per_bucket: int, suite: str = "all") -> list[int]:
    """The most problems each bucket of ``suite_buckets`` can hold, in table order.

    ``per_bucket``, or all the problems of that kind when fewer exist; the
    training split is not subtracted, so a real bucket may be a little smaller.
    """
    if suite == "uniform-10k":
        uniform = min(UNIFORM_10K_SIZE, data.max_unique_problems(digits))
        return [uniform, len(data.edge_cases(digits)[0])]
    sizes = [
        min(per_bucket, carries.count_unordered(digits, chain))
        for chain in range(digits + 1)
    ]
    sizes += [
        min(per_bucket, _problems_of_lengths(short, long))
        for short in range(1, digits + 1)
        for long in range(short, digits + 1)
    ]
    sizes.append(min(per_bucket, data.max_unique_problems(digits)))
    sizes.append(len(data.edge_cases(digits)[0]))
    return sizes


def memory_needed(digits: int, per_bucket: int, suite: str = "all") -> int:
    """About how many bytes building and scoring the suites takes at its peak.

    Every problem while scoring, plus the temporaries of drawing the largest
    bucket (see ``_SCORE_BYTES`` and ``_DRAW_BYTES``); the model runs in
    chunks of a fixed size, so it adds nothing that grows with ``per_bucket``.
    """
    sizes = bucket_sizes(digits, per_bucket, suite)
    score = _SCORE_BYTES[0] + _SCORE_BYTES[1] * digits
    draw = _DRAW_BYTES[0] + _DRAW_BYTES[1] * digits
    return sum(sizes) * score + max(sizes) * draw


def training_problems(config: Config) -> tuple[np.ndarray, np.ndarray]:
    """The operands of ``config``'s training split, rebuilt as training builds it."""
    from jaxadd import train  # jax is imported only when needed

    train_split, _ = train.make_splits(config)
    return train_split.a, train_split.b


@functools.cache
def _predict_fn(model):
    # One jitted function per architecture: runs that differ only in their
    # data (reversal, sampling) then share one compilation.
    from jaxadd import inference

    return inference.make_predict_fn(model)


def predict_answers(
    config: Config, params: Any, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Whether each answer is exactly right, and the answers as a person writes them.

    Runs the model in fixed-shape chunks (``inference.padded_chunks``): one compile.
    """
    from jaxadd import inference, train  # jax is imported only when a model runs

    digits = config.digits
    queries = data.encode_queries(
        a, b, digits, config.reverse, config.leading_pads, config.leading_zeros
    )
    answers = data.encode_answers(a + b, digits, config.reverse_answer)
    predict_fn = _predict_fn(train.make_model(config))
    ids, _ = inference.predict_in_chunks(predict_fn, params, queries)
    if not len(ids):
        ids = np.zeros_like(answers)
    exact = np.all(ids == answers, axis=1)
    return exact, inference.decode_answers(ids, config.reverse_answer)


def _accuracy(correct: int, n: int) -> float | None:
    return correct / n if n else None


def score_buckets(config: Config, params: Any, buckets: list[Bucket]) -> dict[str, Any]:
    """Exact-match accuracy per bucket, as written to ``evaluation.json``."""
    a = np.concatenate([bucket.a for bucket in buckets])
    b = np.concatenate([bucket.b for bucket in buckets])
    exact, guesses = predict_answers(config, params, a, b)
    report: dict[str, Any] = {"carry_chain": [], "operand_lengths": []}
    start = 0
    for bucket in buckets:
        stop = start + len(bucket)
        correct = int(exact[start:stop].sum())
        row = {
            "n": len(bucket),
            "available": bucket.available,
            "correct": correct,
            "accuracy": _accuracy(correct, len(bucket)),
        }
        if bucket.suite == "carry_chain":
            report["carry_chain"].append({"chain": bucket.key, **row})
        elif bucket.suite == "operand_lengths":
            report["operand_lengths"].append({"lengths": list(bucket.key), **row})
        elif bucket.suite == "edge_cases":
            row["cases"] = [
                {
                    "problem": label,
                    "answer": str(int(x + y)),
                    "predicted": guess,
                    "correct": bool(ok),
                }
                for label, x, y, guess, ok in zip(
                    bucket.labels,
                    bucket.a.tolist(),
                    bucket.b.tolist(),
                    guesses[start:stop],
                    exact[start:stop],
                )
            ]
            row["in_training"] = sorted(
                {f"{x}+{y}" for x, y in zip(*data.edge_cases(config.digits))}
                - set(bucket.labels)
            )
            report["edge_cases"] = row
        else:
            report[bucket.suite] = row
        start = stop
    # A suite without them (uniform-10k) has no such summary.
    if report["carry_chain"]:
        report["longest_chain_accuracy"] = report["carry_chain"][-1]["accuracy"]
    if "uniform" in report:
        report["uniform_accuracy"] = report["uniform"]["accuracy"]
    return report


def evaluate_params(
    config: Config,
    params: Any,
    per_bucket: int = DEFAULT_PER_BUCKET,
    seed: int = 0,
    suite: str = "all",
) -> dict[str, Any]:
    """Scores parameters trained as ``config`` says on every suite.

    For a run still in memory, e.g. ``train.train_and_evaluate``'s result::

        report = evaluate_params(config, result["params"])
        report["longest_chain_accuracy"], report["uniform_accuracy"]

    Args:
      config: the run's settings (its training split is excluded).
      params: the model's parameters.
      per_bucket: distinct problems per bucket (fewer only if fewer exist).
      seed: seeds the suites (independent of the run's seed).
      suite: ``all`` (every suite) or ``uniform-10k`` (``uniform_10k_suite``;
        ``per_bucket`` and ``seed`` are then its own).

    Returns:
      The report that ``evaluation.json`` holds, less ``workdir`` and ``epoch``.
    """
    if suite == "uniform-10k":
        per_bucket, seed = UNIFORM_10K_SIZE, 0
    train_a, train_b = training_problems(config)
    buckets = suite_buckets(suite, config.digits, per_bucket, seed, train_a, train_b)
    return {
        "digits": config.digits,
        "suite": suite,
        "per_bucket": per_bucket,
        "seed": seed,
        "config": config.to_dict(),
        **score_buckets(config, params, buckets),
    }


def evaluate_workdir(
    workdir: str,
    per_bucket: int = DEFAULT_PER_BUCKET,
    seed: int = 0,
    write: bool = True,
    warn: Callable[[str], None] | None = None,
    suite: str = "all",
) -> dict[str, Any]:
    """Builds the suites for a trained run, scores them, writes the report.

    Args:
      workdir: a run's directory (``config.json`` and ``checkpoints/``).
      per_bucket: distinct problems per bucket (fewer only if fewer exist).
      seed: seeds the suites (independent of the run's seed).
      write: write the report to ``workdir/REPORT_FILES[suite]``
        (``evaluation.json`` for every suite).
      warn: told about each damaged checkpoint passed over for an older one.

    Returns:
      The report: settings, ``epoch`` evaluated, and per-suite accuracies.

    Raises:
      checkpoint.WorkdirError: the workdir cannot be read, or
        the report cannot be written there.
    """
    from jaxadd import checkpoint  # imports jax: only once a run is read

    config, params, epoch = checkpoint.load_run(workdir, warn=warn)
    report = {
        "workdir": os.path.abspath(workdir),
        "epoch": epoch,
        **evaluate_params(config, params, per_bucket, seed, suite),
    }
    if write:
        write_report(os.path.join(workdir, REPORT_FILES[suite]), report)
    return report


def write_report(path: str, report: dict[str, Any]) -> None:
    """Writes ``report`` as JSON to ``path`` whole or not at all.

    Through ``path + ".tmp"``, renamed over ``path`` once complete and synced
    (removed if anything fails), inside ``cli.writing()`` so that a signal
    waits for it to end.

    Raises:
      checkpoint.WorkdirError: the file cannot be written (a read-only
        directory, a full disk); ``path`` is left as it was.
    """
    text = json.dumps(report, indent=2) + "\n"
    try:
        with cli.writing():
            cli.write_atomically(path, text)
    except OSError as err:
        from jaxadd import checkpoint

        reason = err.strerror or cli.first_line(err)
        raise checkpoint.WorkdirError(f"cannot write {path}: {reason}") from None


def _percent(accuracy: float | None) -> str:
    return "   -  " if accuracy is None else f"{100 * accuracy:6.2f}"


def format_report(report: dict[str, Any], marks: tuple[str, str] = MARKS) -> list[str]:
    """The report as table lines: accuracies in percent, ``-`` for empty buckets.

    Args:
      report: what ``evaluate_workdir`` returned.
      marks: an edge case's mark when right and when wrong (``ASCII_MARKS``
        for an output that cannot write ``MARKS``).
    """
    digits = report["digits"]
    lines = []
    if report["carry_chain"]:  # not in the uniform-10k suite
        lines += _chain_and_length_lines(report)
    uniform, edge = report["uniform"], report["edge_cases"]
    lines += [
        f"uniform operands      {uniform['n']:>8d}   {_percent(uniform['accuracy'])}",
        f"edge cases            {edge['n']:>8d}   {_percent(edge['accuracy'])}",
    ]
    for case in edge["cases"]:
        mark = marks[0] if case["correct"] else marks[1]
        lines.append(
            f"  {case['problem']:>{2 * digits + 1}} = {case['answer']:<{digits + 1}} "
            f"{mark} {case['predicted']}"
        )
    if edge["in_training"]:
        lines.append(f"  (left out, trained on: {', '.join(edge['in_training'])})")
    return lines


def _chain_and_length_lines(report: dict[str, Any]) -> list[str]:
    """The carry-chain and operand-length tables, then a blank line."""
    lines = ["longest carry chain   problems   exact %"]
    for row in report["carry_chain"]:
        lines.append(
            f"{row['chain']:>19d}   {row['n']:>8d}   {_percent(row['accuracy'])}"
        )
    digits = report["digits"]
    lines += ["", "operand lengths: exact % (problems), shorter down, longer across"]
    lines.append("      " + "".join(f"{long:>16d}" for long in range(1, digits + 1)))
    cells = {tuple(row["lengths"]): row for row in report["operand_lengths"]}
    for short in range(1, digits + 1):
        line = f"{short:>6d}" + " " * 16 * (short - 1)
        for long in range(short, digits + 1):
            row = cells[(short, long)]
            line += f"{_percent(row['accuracy'])} ({row['n']:>6d})".rjust(16)
        lines.append(line)
    return lines + [""]


def main(argv: list[str], closed: Sequence[str] = ()) -> None:
    """Evaluates ``--workdir``, prints the table and writes ``evaluation.json``.

    Args:
      argv: the program name alone (flags already parsed).
      closed: the standard streams that were closed when the program started
        (``cli.open_std_streams``).
    """
    from absl import flags, logging

    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        cli.fail(PROG, f"unexpected arguments {' '.join(argv[1:])}")
    flag_values = flags.FLAGS
    workdir, per_bucket, seed, suite = (
        flag_values.workdir,
        flag_values.per_bucket,
        flag_values.seed,
        flag_values.suite,
    )
    if not workdir:
        cli.fail(PROG, "--workdir is required")
    if suite == "uniform-10k" and (
        flag_values["per_bucket"].present or flag_values["seed"].present
    ):
        cli.fail(PROG, "--suite=uniform-10k is fixed: it takes no --per_bucket, --seed")
    if per_bucket <= 0:
        cli.fail(PROG, f"per_bucket must be > 0, got {per_bucket}")
    if not 0 <= seed <= MAX_SEED:
        cli.fail(PROG, f"--seed must be in 0..{MAX_SEED}, got {seed}")
    if "stdout" in closed:
        # /dev/null stands in for it now: the table would vanish without a word.
        cli.fail(PROG, "standard output is closed: nowhere to print the table")

    from jaxadd import checkpoint  # imports jax: after the quick checks

    try:
        config = checkpoint.read_run_config(workdir)
    except checkpoint.WorkdirError as err:
        cli.fail(PROG, str(err))
    # Refused before anything is built: numpy would take the memory piece by
    # piece, and the kernel kill the process (or swap) long before a
    # MemoryError.
    need = memory_needed(config.digits, per_bucket, suite)
    available = cli.available_memory()
    if available is not None and need > available:
        sizes = bucket_sizes(config.digits, per_bucket, suite)
        cli.fail(
            PROG,
            f"--per_bucket={per_bucket} needs about {cli.gib(need)} of memory "
            f"({sum(sizes):,} problems in {len(sizes)} buckets), "
            f"{cli.gib(available)} is available: use a smaller --per_bucket",
        )
    path = os.path.join(workdir, REPORT_FILES[suite])
    # Before minutes of work rather than after (a full disk shows only then).
    if not os.access(workdir, os.W_OK):
        cli.fail(PROG, f"cannot write {path}: the workdir is not writable")
    cli.tolerant_stdout()
    marks = MARKS if cli.can_encode("".join(MARKS)) else ASCII_MARKS
    written = [False]

    def work() -> None:
        report = evaluate_workdir(
            workdir,
            per_bucket,
            seed,
            write=False,
            warn=lambda line: cli.say(PROG, "warning", line),
            suite=suite,
        )
        with cli.writing():  # the flag changes with the file, for a signal
            write_report(path, report)
            written[0] = True
        lines = [
            f"{report['workdir']}: epoch {report['epoch']}, "
            f"{report['digits']} digit(s), suite {suite}, suite seed {report['seed']}",
            *format_report(report, marks),
            f"wrote {path}",
        ]
        cli.write_line("\n".join(lines))

    def interrupted() -> str:
        return f"{path} written" if written[0] else f"{path} not written"

    try:
        cli.run_interruptibly(PROG, work, interrupted)
    except (checkpoint.WorkdirError, ValueError) as err:
        cli.fail(PROG, str(err))
    except cli.OutputError as err:
        cli.fail(PROG, f"{err} ({path} was written)" if written[0] else str(err))
    except MemoryError:
        cli.fail(PROG, "out of memory: use a smaller --per_bucket")
    except Exception as err:  # noqa: BLE001 - one line, never a traceback
        cli.fail(PROG, f"{type(err).__name__}: {cli.first_line(err)}")
    cli.finish(0)


def _define_flags() -> None:
    # Defined only when run as a program, so that importing this module (from
    # the experiments or from a process that also imports jaxadd.main) adds no
    # global flags that could clash.
    from absl import flags

    flags.DEFINE_string("workdir", None, "A training run's directory.")
    flags.DEFINE_integer(
        "per_bucket", DEFAULT_PER_BUCKET, "Distinct problems per bucket."
    )
    flags.DEFINE_integer("seed", 0, "Seeds the evaluation suites.")
    flags.DEFINE_enum(
        "suite",
        "all",
        SUITES,
        "all: every suite, into evaluation.json; uniform-10k: the fixed 10,000 "
        "uniform problems (suite seed 0) and the edge cases, into "
        "evaluation_uniform_10k.json.",
    )


if __name__ == "__main__":
    # First: a closed descriptor must not be reused by the next file opened.
    _closed = cli.open_std_streams()
    cli.exit_on_signals(PROG, lambda: "nothing written")
    from absl import app

    _define_flags()
    app.run(
        lambda argv: main(argv, _closed),
        flags_parser=cli.guard_help_output(PROG, cli.flags_parser(PROG)),
    )
