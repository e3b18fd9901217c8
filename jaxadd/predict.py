"""Answers addition problems with a trained model.

Problems as arguments, one answer a line::

    $ python -m jaxadd.predict --workdir=runs/add3 535+61 12+7
    596
    19

With no problem arguments the problems come from standard input, one a line, so
a pipe or a file of any size works; lines are answered in batches of
``--batch_size``, in order::

    $ printf '535+61\\n1-2\\n999+1\\n' | python -m jaxadd.predict --workdir=runs/add3
    596
    line 2: '1-2': negative numbers and subtraction are not supported
    1000
    jaxadd.predict: error: 1 bad line(s) not answered

(answers on stdout, the two other lines on stderr; exit code 1).

``--show_confidence`` adds, after a space, the probability the model gives to
the whole answer it wrote (the product over the answer positions, padding
included), with four decimals: ``596 0.9987``.

The model's settings (digits, reversal, width) come from the workdir's
``config.json``; the parameters from its newest readable checkpoint (an older one
is used, with a warning, when the newest is damaged). Checkpoints are orbax
arrays and JSON: loading runs no code from the files.

Input rules (``parse_problem``): one ``+`` between two non-negative decimal
integers, surrounding whitespace ignored. Leading zeros are dropped as long as
the number fits (``007+3`` is ``7+3``; the model never saw a leading zero, the
training data writes ``07`` as 7), so an operand may have at most as many digits
as the model was trained on *after* that. Anything else is refused with a
one-line reason: with problem arguments nothing is answered, each bad one is
reported as ``jaxadd.predict: error: ...`` and the exit code is 1; on standard
input each bad line is reported as ``line N: ...`` on stderr, the good lines are
still answered, and the exit code is 1 at the end. A missing or damaged workdir
is one error line and exit code 1.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import numpy as np

from jaxadd.config import Config

PROG = "jaxadd.predict"
DEFAULT_BATCH_SIZE = 4096
_DIGITS = frozenset("0123456789")
# How much of a bad problem an error message quotes: a line may be huge.
_QUOTE_LEN = 40


def _quote(text: str) -> str:
    if len(text) > _QUOTE_LEN:
        text = text[: _QUOTE_LEN - 3] + "..."
    return repr(text)


def parse_problem(text: str, digits: int) -> tuple[int, int]:
    """The operands of a problem written ``A+B``.

    Whitespace around the problem is ignored; leading zeros are dropped (so
    ``007`` is the operand 7 and counts as one digit).

    Args:
      text: the problem as the user wrote it.
      digits: the most digits an operand may have (the model's ``digits``).

    Returns:
      ``(a, b)``.

    Raises:
      ValueError: with a one-line message quoting the problem and saying what
        is wrong with it.
    """
    problem = text.strip()
    if not problem:
        raise ValueError("empty problem: write it as A+B, e.g. 535+61")
    quoted = _quote(problem)
    if any(c.isspace() for c in problem):
        raise ValueError(f"{quoted}: spaces inside a problem are not allowed")
    if "-" in problem:
        raise ValueError(
            f"{quoted}: negative numbers and subtraction are not supported"
        )
    bad = next((c for c in problem if c not in _DIGITS and c != "+"), None)
    if bad is not None:
        raise ValueError(
            f"{quoted}: invalid character {bad!r}: use the digits 0-9 and one '+'"
        )
    pluses = problem.count("+")
    if pluses == 0:
        raise ValueError(f"{quoted}: no '+': write the problem as A+B")
    if pluses > 1:
        raise ValueError(f"{quoted}: more than one '+': only A+B is supported")
    operands = problem.split("+")
    for operand, side in zip(operands, ("before", "after")):
        if not operand:
            raise ValueError(f"{quoted}: no number {side} the '+'")
    values = []
    for operand in operands:
        significant = operand.lstrip("0") or "0"
        if len(significant) > digits:
            raise ValueError(
                f"{quoted}: {_quote(significant)} has {len(significant)} digits; "
                f"the model was trained on at most {digits}"
            )
        # Not int(operand): thousands of leading zeros would exceed Python's
        # limit on the length of converted strings.
        values.append(int(significant))
    a, b = values
    return a, b


class Predictor:
    """Answers batches of problems with one compiled program.

    Every call runs in chunks of exactly ``rows`` problems (the last padded), so
    the model compiles once whatever the number of problems.
    """

    def __init__(self, config: Config, params: Any, rows: int):
        import jax  # local: parse_problem and friends need no jax

        from jaxadd import train

        self.config = config
        # On the device once, not again with every batch.
        self.params = jax.device_put(params)
        self.rows = rows
        self._predict = train.make_predict_fn(train.make_model(config))

    def __call__(self, a: np.ndarray, b: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Answers (as a person writes them) and their probabilities."""
        from jaxadd import data, train

        queries = data.encode_queries(a, b, self.config.digits, self.config.reverse)
        ids, probabilities = train.predict_in_chunks(
            self._predict, self.params, queries, chunk=self.rows
        )
        return train.decode_answers(ids, self.config.reverse_answer), probabilities


def format_answers(
    answers: list[str], probabilities: np.ndarray, show_confidence: bool
) -> list[str]:
    """Output lines: ``596``, or ``596 0.9987`` with ``show_confidence``."""
    if not show_confidence:
        return list(answers)
    return [f"{answer} {p:.4f}" for answer, p in zip(answers, probabilities)]


def load_run(
    workdir: str, warn: Callable[[str], None] | None = None
) -> tuple[Config, Any, int]:
    """The settings, newest readable parameters and their epoch of a run.

    Nothing in ``workdir`` is written.

    Args:
      workdir: a training run's directory.
      warn: told about each damaged checkpoint passed over.

    Raises:
      checkpoint.WorkdirError: no such workdir, an unreadable ``config.json``,
        or no readable checkpoint.
    """
    import jax

    from jaxadd import checkpoint, train

    config = read_run_config(workdir)
    # The template gives orbax the shapes and dtypes to restore into; it is
    # built from the saved settings, never from anything stored as code.
    # Abstract (eval_shape): initializing real parameters op by op would take
    # longer than the whole restore, and they would be overwritten anyway.
    template = jax.eval_shape(lambda: train.create_train_state(config))
    state, epoch = checkpoint.restore_newest(workdir, template, log=warn)
    return config, state.params, epoch


def read_run_config(workdir: str) -> Config:
    """The ``Config`` a workdir's run was trained with.

    Raises:
      checkpoint.WorkdirError: no such directory, or no readable ``config.json``.
    """
    from jaxadd import checkpoint

    if not os.path.isdir(workdir):
        raise checkpoint.WorkdirError(f"workdir {workdir} does not exist")
    return Config.from_dict(checkpoint.read_config(workdir)["config"])


def answer_stream(
    lines: Iterable[str],
    config: Config,
    params: Any,
    batch_size: int,
    show_confidence: bool,
    out: IO[str],
    err: IO[str],
) -> int:
    """Answers problems one a line, in batches; returns how many lines were bad.

    Each bad line is reported on ``err`` as ``line N: <reason>`` (N from 1) as
    soon as it is read; the answers of the good ones go to ``out`` in order,
    each batch as soon as it is full.

    Args:
      lines: the problems, one an item (a trailing newline is fine).
      config: the model's settings.
      params: the model's parameters.
      batch_size: problems answered per compiled call.
      show_confidence: append each answer's probability.
      out: where answers go.
      err: where bad lines are reported.
    """
    bad = 0
    predictor: Predictor | None = None
    a: list[int] = []
    b: list[int] = []

    def flush() -> None:
        nonlocal predictor
        if not a:
            return
        if predictor is None:
            # A first batch that is not full is also the last: sized to it,
            # there is still one shape to compile, and a few lines do not pay
            # for a whole batch of padding.
            predictor = Predictor(config, params, min(batch_size, len(a)))
        answers, probabilities = predictor(np.array(a), np.array(b))
        for line in format_answers(answers, probabilities, show_confidence):
            out.write(line + "\n")
        out.flush()
        a.clear()
        b.clear()

    for number, text in enumerate(lines, 1):
        try:
            x, y = parse_problem(text, config.digits)
        except ValueError as error:
            bad += 1
            err.write(f"line {number}: {error}\n")
            err.flush()
            continue
        a.append(x)
        b.append(y)
        if len(a) == batch_size:
            flush()
    flush()
    return bad


def _stdin_lines() -> Iterator[str]:
    # Bytes, decoded per line: a stray non-UTF-8 byte becomes U+FFFD, which
    # parse_problem reports as a bad character on that line, not a crash.
    for raw in sys.stdin.buffer:
        yield raw.decode("utf-8", errors="replace")


def main(argv: list[str]) -> None:
    from absl import flags, logging

    from jaxadd import checkpoint

    # orbax and jax log at INFO; stderr is for the user's bad lines.
    logging.set_verbosity(logging.WARNING)
    flag_values = flags.FLAGS
    problems = argv[1:]
    if not flag_values.workdir:
        _fail("--workdir is required: the directory of a training run")
    if flag_values.batch_size <= 0:
        _fail(f"batch_size must be > 0, got {flag_values.batch_size}")

    bad = 0
    try:
        config = read_run_config(flag_values.workdir)
        # Problem arguments are all checked before the model loads: a typo
        # answers at once, and nothing is answered from a half-good command.
        errors = []
        for problem in problems:
            try:
                parse_problem(problem, config.digits)
            except ValueError as error:
                errors.append(str(error))
        if errors:
            _fail(*errors)
        # Told only if an older checkpoint does load: otherwise the error line
        # names every damaged epoch already.
        skipped: list[str] = []
        config, params, _ = load_run(flag_values.workdir, skipped.append)
        for line in skipped:
            print(f"{PROG}: warning: {line}", file=sys.stderr, flush=True)
        bad = answer_stream(
            problems if problems else _stdin_lines(),
            config,
            params,
            flag_values.batch_size,
            flag_values.show_confidence,
            sys.stdout,
            sys.stderr,
        )
    except checkpoint.WorkdirError as error:
        _fail(str(error))
    except BrokenPipeError:
        # The reader went away (e.g. ``| head``): nothing left to tell it.
        _finish(1)
    except KeyboardInterrupt:
        _finish(130)
    if bad:
        print(f"{PROG}: error: {bad} bad line(s) not answered", file=sys.stderr)
    _finish(1 if bad else 0)


def _fail(*messages: str) -> None:
    for message in messages:
        print(f"{PROG}: error: {message}", file=sys.stderr)
    _finish(1)


def _finish(code: int) -> None:
    """Exits at once, skipping interpreter teardown.

    A failed orbax restore (a damaged checkpoint) can leave tensorstore reads in
    flight; at teardown their callbacks print asyncio tracebacks after our own
    output. Nothing here needs teardown: the workdir was only read.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe: the exit code is all that is left to say
    os._exit(code)


_NEGATIVE = re.compile(r"-+[0-9+]")


def _parse_flags(argv: list[str]) -> list[str]:
    """absl's parsing, except that ``-5+3`` stays a problem (to be refused).

    absl would take ``-5+3`` for an unknown flag and answer with its own usage
    error; a problem that starts with a digit after the dashes is never a flag.
    """
    from absl import flags

    held = {}
    args = [argv[0]]
    for arg in argv[1:]:
        if _NEGATIVE.match(arg):
            key = f"\0{len(held)}"
            held[key] = arg
            arg = key
        args.append(arg)
    try:
        rest = flags.FLAGS(args)
    except flags.Error as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        sys.exit(1)
    return [held.get(arg, arg) for arg in rest]


def _define_flags() -> None:
    # Defined only when run as a program, so that importing this module (from
    # tests, or a process that also imports jaxadd.main, which has its own
    # --workdir and --batch_size) adds no global flags that could clash.
    from absl import flags

    flags.DEFINE_string(
        "workdir", None, "A training run's directory (config.json, checkpoints/)."
    )
    flags.DEFINE_boolean(
        "show_confidence",
        False,
        "After each answer, the model's probability of that whole answer.",
    )
    flags.DEFINE_integer(
        "batch_size",
        DEFAULT_BATCH_SIZE,
        "Problems answered per compiled call (standard input is read in batches "
        "of this many).",
    )


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main, flags_parser=_parse_flags)
