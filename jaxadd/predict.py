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
the number fits (``007+3`` is ``7+3``; the query is then written in the run's
layout, with ``--leading_zeros`` padded back to ``digits`` digits), so an
operand may have at most as many digits as the model was trained on *after*
that. Anything else is refused with a one-line reason: with problem arguments
nothing is answered, each bad one is reported as ``jaxadd.predict: error: ...``
and the exit code is 1; on standard input each bad line is reported as
``line N: ...`` on stderr, the good lines are still answered, and the exit code
is 1 at the end. A line of standard input longer than ``MAX_LINE_BYTES`` (1024) bytes,
its line end not counted, is reported as ``line N: longer than 1024 bytes``
without being held whole (the rest of it is read and dropped in pieces), so a
stream without newlines cannot fill the memory; a valid problem is at most
``2 * digits + 1`` characters once leading zeros are dropped.

Every other fault is one line on stderr, ``jaxadd.predict: error: ...``, and
exit code 1, never a traceback (the codes are ``jaxadd.cli``'s: 0 done, 1 an
error, 130 SIGINT, 143 SIGTERM):

- a bad flag (absl's own errors included), a missing, damaged or unreadable
  workdir, or a path that is not a directory;
- standard input closed (``0<&-``) with no problem arguments, or unreadable;
- standard output closed (``1>&-``), full (``/dev/full``) or a pipe whose
  reader went away (``| head -1``): ``cannot write to standard output: ...``,
  and the program stops at once instead of answering the rest;
- a ``--batch_size`` whose batch would not fit in the memory available
  (``batch_bytes``), refused before anything is read.

Ctrl-C or SIGTERM, at any moment, ends the program at once with one line,
``jaxadd.predict: interrupted by SIGINT; N answer(s) written``, and 130 (143).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any

import numpy as np

from jaxadd import cli, data
from jaxadd.config import Config

PROG = "jaxadd.predict"
DEFAULT_BATCH_SIZE = 4096
# The longest line of standard input read as a problem, in bytes, its line end
# not counted. A problem is 2 * digits + 1 characters (at most 37 for the
# largest model); the rest is room for whitespace and leading zeros.
MAX_LINE_BYTES = 1024
# The pieces in which the rest of a longer line is read and dropped.
_SKIP_BYTES = 1 << 16
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

        from jaxadd import inference, train

        self.config = config
        # On the device once, not again with every batch.
        self.params = jax.device_put(params)
        self.rows = rows
        self._predict = inference.make_predict_fn(train.make_model(config))

    def __call__(self, a: np.ndarray, b: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Answers (as a person writes them) and their probabilities."""
        from jaxadd import inference

        config = self.config
        queries = data.encode_queries(
            a,
            b,
            config.digits,
            config.reverse,
            config.leading_pads,
            config.leading_zeros,
        )
        ids, probabilities = inference.predict_in_chunks(
            self._predict, self.params, queries, chunk=self.rows
        )
        return inference.decode_answers(ids, self.config.reverse_answer), probabilities


def format_answers(
    answers: list[str], probabilities: np.ndarray, show_confidence: bool
) -> list[str]:
    """Output lines: ``596``, or ``596 0.9987`` with ``show_confidence``."""
    if not show_confidence:
        return list(answers)
    return [f"{answer} {p:.4f}" for answer, p in zip(answers, probabilities)]


class InputError(RuntimeError):
    """Standard input cannot be read (an I/O error, a descriptor not open to read)."""


def batch_bytes(config: Config, rows: int) -> int:
    """About how many bytes of memory answering ``rows`` problems at once takes.

    With ``T`` and ``A`` the query and answer lengths and ``H`` the hidden size:
    on the host, the operands as Python ints and int64 arrays, the query and
    answer ids (int32, with their padded copies) and the answers as Python
    strings, about ``400 + 16 T + 20 A`` bytes a row; for the model (host memory
    too on the CPU backend), the one-hot query (``T * 12`` float32) and XLA's
    buffers for one call, measured with ``memory_analysis()``: the encoder's
    input projection for every step (``T * 4H`` float32) and one step's gates
    and states, ``4 H (4 T + 10 + 4 (layers - 1))`` bytes a row.
    """
    t = data.query_len(config.digits, config.leading_pads)
    a = data.answer_len(config.digits)
    h = config.hidden_size
    host = 400 + 16 * t + 20 * a
    model = 4 * t * data.VOCAB_SIZE + 4 * h * (4 * t + 10 + 4 * (config.num_layers - 1))
    return rows * (host + model)


def answer_stream(
    lines: Iterable[str | ValueError],
    config: Config,
    params: Any,
    batch_size: int,
    show_confidence: bool,
    out: IO[str],
    err: IO[str],
    answered: Callable[[int], None] | None = None,
) -> int:
    """Answers problems one a line, in batches; returns how many lines were bad.

    Each bad line is reported on ``err`` as ``line N: <reason>`` (N from 1) as
    soon as it is read; the answers of the good ones go to ``out`` in order,
    each batch as soon as it is full.

    Args:
      lines: the problems, one an item (a trailing newline is fine); an item
        that is a ``ValueError`` is a line the reader refused already (too
        long, see ``read_lines``), reported with its message.
      config: the model's settings.
      params: the model's parameters.
      batch_size: problems answered per compiled call.
      show_confidence: append each answer's probability.
      out: where answers go.
      err: where bad lines are reported (a failure to write there is ignored:
        the exit code still says that lines were bad).
      answered: told the number of answers written after each batch.

    Raises:
      cli.OutputError: ``out`` cannot be written; nothing more is answered.
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
        # One write and one flush a batch, not a line: a pipe that closes
        # stops the program at the next batch.
        cli.write_line(
            "\n".join(format_answers(answers, probabilities, show_confidence)), out
        )
        if answered is not None:
            answered(len(answers))
        a.clear()
        b.clear()

    for number, text in enumerate(lines, 1):
        error = text if isinstance(text, ValueError) else None
        if error is None:
            try:
                x, y = parse_problem(text, config.digits)
            except ValueError as refused:
                error = refused
        if error is not None:
            bad += 1
            with contextlib.suppress(OSError, ValueError):
                err.write(f"line {number}: {error}\n")
                err.flush()
            continue
        a.append(x)
        b.append(y)
        if len(a) == batch_size:
            flush()
    flush()
    return bad


def read_lines(
    stream: IO[bytes], limit: int = MAX_LINE_BYTES
) -> Iterator[str | ValueError]:
    """The lines of a byte stream, decoded, never holding more than a line's limit.

    Bytes are decoded per line: a stray non-UTF-8 byte becomes U+FFFD, which
    ``parse_problem`` reports as a bad character on that line, not a crash.

    Args:
      stream: where the lines come from (standard input's ``buffer``).
      limit: the most bytes a line may have, its line end (``\\n`` or
        ``\\r\\n``) not counted.

    Yields:
      Each line without its line end, or, for a longer line, a ``ValueError``
      saying so; the rest of that line is read in pieces and dropped.

    Raises:
      InputError: the stream cannot be read.
    """
    while True:
        raw = _read_line(stream, limit + 2)
        if not raw:
            return
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        elif len(raw) == limit + 2:
            # Too long already: drop the rest without keeping it.
            while True:
                piece = _read_line(stream, _SKIP_BYTES)
                if not piece or piece.endswith(b"\n"):
                    break
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if len(raw) > limit:
            yield ValueError(f"longer than {limit} bytes")
        else:
            yield raw.decode("utf-8", errors="replace")


def _read_line(stream: IO[bytes], limit: int) -> bytes:
    try:
        return stream.readline(limit)
    except (OSError, ValueError) as err:
        reason = getattr(err, "strerror", None) or cli.first_line(err)
        raise InputError(f"cannot read standard input: {reason}") from None


def main(argv: list[str], closed: Sequence[str] = ()) -> None:
    """Answers the problems of ``argv[1:]``, or of standard input if there are none.

    Args:
      argv: the program name and the problems (flags already parsed).
      closed: the standard streams that were closed when the program started
        (``cli.open_std_streams``).
    """
    from absl import flags, logging

    # orbax and jax log at INFO; stderr is for the user's bad lines.
    logging.set_verbosity(logging.WARNING)
    flag_values = flags.FLAGS
    problems = argv[1:]
    if not flag_values.workdir:
        cli.fail(PROG, "--workdir is required: the directory of a training run")
    if flag_values.batch_size <= 0:
        cli.fail(PROG, f"batch_size must be > 0, got {flag_values.batch_size}")
    if "stdout" in closed:
        # /dev/null stands in for it now: answers would vanish without a word.
        cli.fail(PROG, "standard output is closed: nowhere to write the answers")
    if not problems and "stdin" in closed:
        cli.fail(
            PROG,
            "standard input is closed and no problem was given: give problems "
            "as arguments or one a line on standard input",
        )

    from jaxadd import checkpoint  # imports jax: after the checks that need none

    try:
        config = checkpoint.read_run_config(flag_values.workdir)
    except checkpoint.WorkdirError as error:
        cli.fail(PROG, str(error))
    # Problem arguments are all checked before the model loads: a typo
    # answers at once, and nothing is answered from a half-good command.
    errors = []
    for problem in problems:
        try:
            parse_problem(problem, config.digits)
        except ValueError as error:
            errors.append(str(error))
    if errors:
        cli.fail(PROG, *errors)
    # Standard input fills a whole batch before its first answer: refuse one
    # that cannot fit rather than swap or be killed halfway.
    rows = min(flag_values.batch_size, len(problems) or flag_values.batch_size)
    need, available = batch_bytes(config, rows), cli.available_memory()
    if available is not None and need > available:
        cli.fail(
            PROG,
            f"--batch_size={flag_values.batch_size} needs about {cli.gib(need)} of "
            f"memory for one batch, {cli.gib(available)} is available: "
            "use a smaller --batch_size",
        )

    written = 0

    def count(answers: int) -> None:
        nonlocal written
        written += answers

    def work() -> int:
        # Told only if an older checkpoint does load: otherwise the error line
        # names every damaged epoch already.
        skipped: list[str] = []
        _, params, _ = checkpoint.load_run(flag_values.workdir, skipped.append)
        for line in skipped:
            cli.say(PROG, "warning", line)
        return answer_stream(
            problems if problems else read_lines(sys.stdin.buffer),
            config,
            params,
            flag_values.batch_size,
            flag_values.show_confidence,
            sys.stdout,
            # Not sys.stderr itself: a damaged checkpoint read mutes it.
            cli.error_stream(),
            answered=count,
        )

    try:
        bad = cli.run_interruptibly(PROG, work, lambda: f"{written} answer(s) written")
    except (checkpoint.WorkdirError, cli.OutputError, InputError) as error:
        cli.fail(PROG, str(error))
    except MemoryError:
        cli.fail(PROG, "out of memory: use a smaller --batch_size")
    except Exception as error:  # noqa: BLE001 - one line, never a traceback
        cli.fail(PROG, f"{type(error).__name__}: {cli.first_line(error)}")
    if bad:
        cli.fail(PROG, f"{bad} bad line(s) not answered")
    cli.finish(0)


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
        cli.fail(PROG, cli.first_line(error))
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
    # First: a closed descriptor must not be reused by the next file opened.
    _closed = cli.open_std_streams()
    cli.exit_on_signals(PROG, lambda: "nothing answered")
    from absl import app

    _define_flags()
    app.run(
        lambda argv: main(argv, _closed),
        flags_parser=cli.guard_help_output(PROG, _parse_flags),
    )
