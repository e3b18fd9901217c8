"""What the three programs share: one line for every failure, and safe streams.

``jaxadd.main``, ``jaxadd.predict`` and ``jaxadd.evaluate`` end every fault, a
bad flag as much as a full disk or Ctrl-C, with one line on stderr,
``PROG: error: ...`` (or ``PROG: interrupted ...``), and one of these codes:

====  ==============================================================
0     done
1     an error: a bad flag or input, a busy or foreign workdir, an
      I/O failure (read-only or full disk, closed output), too little
      memory, a multi-host start that fails
129   hung up (SIGHUP: the terminal closed)
130   interrupted by SIGINT (Ctrl-C)
143   terminated by SIGTERM
====  ==============================================================

Interrupted programs exit at once, but never in the middle of writing a file
of the workdir: ``writing()`` marks those moments, and a signal that arrives
during one takes effect when it ends. Exits go through ``finish``, which skips
the interpreter's teardown: JAX's and orbax's threads can crash it (exit 139)
when it runs while they work, and nothing of ours needs it.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any, NoReturn

EXIT_ERROR = 1
# SIGHUP too: a closed terminal must not kill a run in the middle of a write.
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
SIGNAL_NAMES = {
    signal.SIGINT: "SIGINT",
    signal.SIGTERM: "SIGTERM",
    signal.SIGHUP: "SIGHUP",
}

# Held while a file of a workdir is being written; a signal waits for it.
_WRITING = threading.RLock()

# What a terminal shows below the program's lines while they last (a live
# progress bar, which redraws itself): each is cleared before a last line,
# so that the line stands alone on the screen instead of above a dead bar.
_LIVE_DISPLAYS: list[Callable[[], None]] = []


def add_live_display(clear: Callable[[], None]) -> None:
    """``clear()`` will remove a live display before a failure's last line."""
    _LIVE_DISPLAYS.append(clear)


def remove_live_display(clear: Callable[[], None]) -> None:
    """The display ``clear`` removes has gone by itself."""
    with contextlib.suppress(ValueError):
        _LIVE_DISPLAYS.remove(clear)


def _clear_live_displays() -> None:
    while _LIVE_DISPLAYS:
        clear = _LIVE_DISPLAYS.pop()
        with contextlib.suppress(Exception):  # a last line matters more
            clear()


class OutputError(RuntimeError):
    """Standard output cannot be written (a closed pipe, a full device)."""


def first_line(err: BaseException) -> str:
    """The first line of an error's message (JAX's run on), or its type's name."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def finish(code: int) -> NoReturn:
    """Flushes what can be flushed and exits at once, skipping teardown."""
    for stream in (sys.stdout, sys.stderr, _OWN_STDERR):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe: the exit code is all that is left to say
    os._exit(code)


def say(prog: str, kind: str, message: str) -> None:
    """Writes ``PROG: KIND: MESSAGE`` to stderr, if anything can be written."""
    _stderr_line(f"{prog}: {kind}: {message}")


# Where our own stderr lines go once ``mute_stray_errors`` has run.
_OWN_STDERR: IO[str] | None = None


def mute_stray_errors(real: IO[str] | None = None) -> None:
    """Keeps stderr for this module's lines alone, from now to the exit.

    After a failed orbax write or read, tensorstore's callbacks still in flight
    print asyncio tracebacks ("Event loop is closed") from their threads, at
    any moment until the exit: the one line we promise would drown in them.
    """
    global _OWN_STDERR
    real = real or sys.stderr
    if _OWN_STDERR is None and real is not None:
        with contextlib.suppress(OSError, ValueError):
            real.flush()
            _OWN_STDERR = open(os.dup(real.fileno()), "w")  # noqa: SIM115
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115


# The real stderr while ``stray_errors_held`` holds sys.stderr back: a signal's
# line, written meanwhile, must not be held (and lost) with the stray ones.
_HELD_FROM: IO[str] | None = None


def error_stream() -> IO[str]:
    """Where a program's own messages go: stderr, even once muted or held."""
    return _OWN_STDERR or _HELD_FROM or sys.stderr


@contextlib.contextmanager
def stray_errors_held() -> Iterator[None]:
    """Holds back what other threads print to stderr during the block.

    Printed after it if it succeeds; dropped, and stderr muted for good
    (``mute_stray_errors``), if it raises: orbax's threads print the
    tracebacks of a failed write before the write itself raises.
    """
    global _HELD_FROM
    real, held = sys.stderr, io.StringIO()
    sys.stderr, outer, _HELD_FROM = held, _HELD_FROM, _HELD_FROM or real
    try:
        yield
    except BaseException:
        mute_stray_errors(real)  # never back to ``real``: the threads go on
        raise
    finally:
        _HELD_FROM = outer
    sys.stderr = real
    if held.getvalue():
        with contextlib.suppress(OSError, ValueError):
            real.write(held.getvalue())


def _stderr_line(line: str) -> None:
    stream = error_stream()
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError, AttributeError):
        pass  # stderr itself is gone: only the exit code remains


def fail(prog: str, *messages: str) -> NoReturn:
    """One ``PROG: error: ...`` line per message, then exit code 1."""
    _clear_live_displays()
    for message in messages:
        say(prog, "error", message)
    finish(EXIT_ERROR)


def crash(err: BaseException) -> NoReturn:
    """Prints the traceback of an unexpected error (a bug) and exits with 1."""
    import traceback

    _clear_live_displays()
    with contextlib.suppress(OSError, ValueError, AttributeError):
        traceback.print_exception(err, file=error_stream())
    finish(EXIT_ERROR)


def open_std_streams() -> list[str]:
    """Opens ``/dev/null`` on each of stdin, stdout and stderr that is closed.

    A closed descriptor 0, 1 or 2 is handed out again by the next ``open``: a
    checkpoint or lock file would then receive whatever a library prints.
    Returns the names of the streams that were closed.
    """
    closed = []
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            closed.append(name)
    if closed:
        # Python made the closed ones None at start-up.
        for name in closed:
            fd = ("stdin", "stdout", "stderr").index(name)
            mode = "r" if fd == 0 else "w"
            setattr(sys, name, open(fd, mode, closefd=False))  # noqa: SIM115
    return closed


def tolerant_stdout() -> None:
    """Lets stdout take any text: characters its encoding lacks become ``?``.

    Under ``PYTHONIOENCODING=ascii`` or a Latin-1 terminal, a ``☑`` would
    otherwise stop a run at its first sample line.
    """
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="replace")


def can_encode(text: str, stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (stdout) writes ``text`` as it is."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


# The marks of right and wrong answers, for an output that cannot show them.
_ASCII_MARKS = str.maketrans({"☑": "ok", "☒": "XX"})


def displayable(line: str, stream: IO[str] | None = None) -> str:
    """``line``, its marks ``☑``/``☒`` spelt ``ok``/``XX`` if ``stream`` lacks them."""
    return line if can_encode(line, stream) else line.translate(_ASCII_MARKS)


def write_line(line: str, stream: IO[str] | None = None) -> None:
    """Writes one line to stdout and flushes it; ``OutputError`` if it cannot."""
    stream = stream or sys.stdout
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError) as err:
        # Later writes (and Python's own at exit) would fail the same way.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        raise OutputError(_cannot_write(err)) from None


def _cannot_write(err: BaseException) -> str:
    reason = (
        "the reader closed the pipe"
        if isinstance(err, BrokenPipeError)
        else getattr(err, "strerror", None) or first_line(err)
    )
    return f"cannot write to standard output: {reason}"


def flags_parser(prog: str) -> Callable[[list[str]], list[str]]:
    """absl's flag parsing, with its errors as one ``PROG: error:`` line."""

    def parse(argv: list[str]) -> list[str]:
        from absl import flags

        try:
            return flags.FLAGS(argv)
        except flags.Error as err:
            fail(prog, first_line(err))

    return parse


def guard_help_output(
    prog: str, parse: Callable[[list[str]], list[str]]
) -> Callable[[list[str]], list[str]]:
    """A flags parser whose ``--help`` text, if it cannot be written, is one line.

    absl prints ``--help`` and its kin to stdout and exits with 1; into
    ``| head -1`` or ``/dev/full`` the print fails with a traceback instead.

    Args:
      prog: the program's name, for the error line.
      parse: the parser to guard (``flags_parser(prog)``, or one of its own).
    """

    def guarded(argv: list[str]) -> list[str]:
        try:
            try:
                return parse(argv)
            except SystemExit:
                # Help was printed: make its write fail here if it is to fail.
                if sys.stdout is not None:
                    sys.stdout.flush()
                raise
        except OSError as err:
            fail(prog, _cannot_write(err))

    return guarded


def write_atomically(path: str, text: str | bytes) -> None:
    """Replaces ``path`` by ``text`` (or bytes) whole, or leaves it as it was.

    Raises:
      OSError: it could not be written (no ``.tmp`` file is left).
    """
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def available_memory() -> int | None:
    """Bytes of host memory a new allocation can have now, or ``None`` if unknown.

    Linux's ``MemAvailable`` (free memory plus what the kernel can reclaim);
    elsewhere the free pages.
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def gib(nbytes: float) -> str:
    """``12.3 GiB``: a size for an error message."""
    return f"{nbytes / 2**30:.1f} GiB"


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """Marks the writing of a workdir file: a signal waits until it ends."""
    with _WRITING:
        yield


def _exit_on_signal(
    prog: str, interrupted: Callable[[], str]
) -> Callable[[int, Any], None]:
    """A signal handler: waits for ``writing()``, says one line, exits 130/143."""

    def on_signal(signum: int, frame: Any) -> None:
        del frame
        _WRITING.acquire()  # never released: the process ends here
        _clear_live_displays()
        _stderr_line(f"{prog}: interrupted by {SIGNAL_NAMES[signum]}; {interrupted()}")
        finish(EXIT_SIGNAL[signum])

    return on_signal


def exit_on_signals(prog: str, interrupted: Callable[[], str]) -> None:
    """Makes SIGINT and SIGTERM end the program as ``run_interruptibly`` does.

    For the start of a program, before ``run_interruptibly`` takes over: a
    Ctrl-C while ``import jax`` runs would otherwise end in a
    ``KeyboardInterrupt`` traceback, and a SIGTERM in no line at all. The
    handlers run between Python bytecodes of the main thread, so a long call
    into C there delays them until it returns. Call it from the main thread.
    """
    on_signal = _exit_on_signal(prog, interrupted)
    for signum in EXIT_SIGNAL:
        signal.signal(signum, on_signal)


def run_interruptibly(
    prog: str, work: Callable[[], Any], interrupted: Callable[[], str]
) -> Any:
    """Runs ``work()`` in a thread; SIGINT or SIGTERM exit between writes.

    The main thread only waits, so Python runs the signal handler at once,
    even while ``work`` sits in a long compiled call (a 10-digit epoch takes
    minutes). The handler waits for a ``writing()`` block in progress, says
    ``PROG: interrupted by SIGINT; <interrupted()>`` and exits with 130 (143
    for SIGTERM) without tearing the interpreter down.

    Returns:
      What ``work`` returned; an exception it raised is raised here.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            outcome["error"] = err

    on_signal = _exit_on_signal(prog, interrupted)
    previous = {s: signal.signal(s, on_signal) for s in EXIT_SIGNAL}
    thread = threading.Thread(target=target, name=f"{prog}-work", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.25)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
