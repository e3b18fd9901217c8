"""Faults and misuse of `jaxadd.predict` and `jaxadd.evaluate`, run as a user would.

Each fault must end with one line on stderr and a documented exit code (1, 130
for SIGINT, 143 for SIGTERM), never a traceback, a hang or unbounded memory.
"""

import contextlib
import errno
import io
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest

from jaxadd import checkpoint, evaluate, predict
from jaxadd.config import Config

ROOT = pathlib.Path(__file__).resolve().parents[1]
ENV = dict(os.environ, JAX_PLATFORMS="cpu")
TINY_FLAGS = [
    # The 3-digit defaults with these changes, not the 2-digit recipe.
    "--config=default",
    "--digits=2",
    "--training_size=600",
    "--epochs=2",
    "--batch_size=32",
    "--hidden_size=16",
    "--num_samples=1",
]
PREDICT, EVALUATE = "jaxadd.predict", "jaxadd.evaluate"
# An answer with --show_confidence: the tiny model may answer with nothing at
# all, but the probability is always there.
ANSWER = r"\d* [01]\.\d{4}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> pathlib.Path:
    """One tiny trained run for the whole module; copy it before damaging it."""
    path = tmp_path_factory.mktemp("faults") / "run"
    result = subprocess.run(
        [sys.executable, "-m", "jaxadd.main", *TINY_FLAGS, f"--workdir={path}"],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return path


def command(prog: str, *args: str) -> list[str]:
    return [sys.executable, "-m", prog, *args]


def run(
    prog: str, *args: str, timeout: float = 120, close: int | None = None, **kwargs
):
    """Runs ``python -m PROG ARGS``; output as text; never a traceback.

    ``close``: a descriptor the shell closes first (``0<&-``, ``1>&-``).
    """
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    if "stdout" not in kwargs:
        kwargs["capture_output"] = True
    else:
        kwargs.setdefault("stderr", subprocess.PIPE)
    argv = command(prog, *args)
    if close is not None:
        argv = ["sh", "-c", f'exec "$@" {close}>&-', "sh", *argv]
    result = subprocess.run(
        argv,
        text=True,
        timeout=timeout,
        env=kwargs.pop("env", ENV),
        cwd=ROOT,
        **kwargs,
    )
    assert "Traceback" not in (result.stdout or "") + result.stderr, result.stderr
    return result


def error_line(result, prog: str, code: int = 1) -> str:
    """The one line a failed run must leave on stderr, after checking its code."""
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    start = f"{prog}: error: " if code == 1 else f"{prog}: interrupted by "
    assert lines[0].startswith(start), lines[0]
    return lines[0]


def wait_for(proc: subprocess.Popen, timeout: float = 120) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("the program hung") from None


def run_measured(args: list[str], chunks) -> tuple[int, str, str, int]:
    """Runs a program fed ``chunks`` through a pipe; also its peak memory in KiB."""
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        cwd=ROOT,
    )
    output: dict[str, bytes] = {}

    def drain(name, stream):
        output[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=("out", proc.stdout)),
        threading.Thread(target=drain, args=("err", proc.stderr)),
    ]
    for reader in readers:
        reader.start()
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    try:
        with contextlib.suppress(BrokenPipeError):
            for chunk in chunks:
                proc.stdin.write(chunk)
            proc.stdin.close()
        # wait4, not the fixture's RUSAGE_CHILDREN: that is the largest child
        # so far, which is the training run.
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        watchdog.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    out, err = output["out"].decode(), output["err"].decode()
    assert "Traceback" not in out + err, err
    return proc.returncode, out, err, usage.ru_maxrss


# 1. A line with no end.


class _Recording(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.limits: list[int] = []

    def readline(self, limit=-1):
        self.limits.append(limit)
        return super().readline(limit)


def test_read_lines_refuses_long_lines_reading_in_bounded_pieces():
    limit = predict.MAX_LINE_BYTES
    ok = b"0" * (limit - 3) + b"1+2"
    stream = _Recording(
        ok
        + b"\n"
        + ok
        + b"\r\n"
        + b"0"
        + ok
        + b"\n"  # one byte too many
        + b"7" * 300_000
        + b"\n"
        + b"3+4\n"
        + b"9" * (limit + 1)  # too long, and the last line, without an end
    )
    lines = list(predict.read_lines(stream))
    assert [x if isinstance(x, str) else "long" for x in lines] == [
        ok.decode(),
        ok.decode(),
        "long",
        "long",
        "3+4",
        "long",
    ]
    assert str(lines[2]) == f"longer than {limit} bytes"
    # Never an unbounded readline: a line without an end is never held whole.
    assert all(0 < n <= max(limit + 2, 1 << 16) for n in stream.limits)


# Reads standard input with predict's reader, as predict does, and prints the
# number of lines and the peak memory: without JAX, whose compiler threads make
# a whole program's peak vary by tens of MiB from run to run.
_READER = (
    "import resource, sys\n"
    "from jaxadd.predict import read_lines\n"
    "n = sum(1 for _ in read_lines(sys.stdin.buffer))\n"
    "print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def _reader_peak(chunks) -> tuple[int, int]:
    rc, out, err, _ = run_measured([sys.executable, "-c", _READER], chunks)
    assert rc == 0, err
    lines, peak_kib = map(int, out.split())
    return lines, peak_kib


def test_endless_line_on_stdin_is_skipped_in_bounded_memory(workdir):
    endless = [b"7" * 2**20] * 200  # 200 MiB, no newline
    assert _reader_peak([b"1+2\n"])[0] == 1
    lines, peak_kib = _reader_peak([*endless, b"\n1+2\n"])
    assert lines == 2  # the endless one (refused) and 1+2
    base_kib = _reader_peak([b"1+2\n"])[1]
    # Read whole, the line would take 200 MiB as bytes and as much decoded.
    assert peak_kib - base_kib < 16 * 1024, (base_kib, peak_kib)

    # The program itself: the line refused, the good line after it answered.
    args = command(PREDICT, f"--workdir={workdir}", "--show_confidence")
    rc, out, err, _ = run_measured(args, [*endless, b"\n1+2\n"])
    assert rc == 1
    assert err.splitlines() == [
        "line 1: longer than 1024 bytes",
        "jaxadd.predict: error: 1 bad line(s) not answered",
    ]
    answers = out.splitlines()
    assert len(answers) == 1 and re.fullmatch(ANSWER, answers[0])


# 2. A closed standard input.


def test_closed_stdin_without_problems_is_one_error_line(workdir):
    result = run(
        PREDICT,
        f"--workdir={workdir}",
        close=0,
    )
    assert "standard input is closed" in error_line(result, PREDICT)
    assert result.stdout == ""


def test_closed_stdin_with_problems_answers_them(workdir):
    result = run(
        PREDICT,
        f"--workdir={workdir}",
        "--show_confidence",
        "1+2",
        close=0,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1


# 3. Standard output closed, full, or a pipe whose reader went away.


@pytest.mark.parametrize("prog", [PREDICT, EVALUATE])
def test_closed_stdout_is_one_error_line(workdir, prog):
    args = [f"--workdir={workdir}"] + (["1+2"] if prog == PREDICT else [])
    result = run(prog, *args, stdout=None, close=1)
    assert "standard output is closed" in error_line(result, prog)


@pytest.mark.parametrize("prog", [PREDICT, EVALUATE])
def test_full_stdout_is_one_error_line(workdir, tmp_path, prog):
    run_dir = tmp_path / "run"
    shutil.copytree(workdir, run_dir)
    args = [f"--workdir={run_dir}"]
    args += ["1+2", "3+4"] if prog == PREDICT else ["--per_bucket=20"]
    with open("/dev/full", "w") as full:
        result = run(prog, *args, stdout=full)
    line = error_line(result, prog)
    assert "cannot write to standard output: No space left on device" in line


@pytest.mark.parametrize("prog", [PREDICT, EVALUATE])
def test_help_into_full_stdout_is_one_error_line(prog):
    # absl prints --helpfull itself, before our main runs.
    with open("/dev/full", "w") as full:
        result = run(prog, "--helpfull", stdout=full, timeout=60)
    line = error_line(result, prog)
    assert "cannot write to standard output: No space left on device" in line


def test_predict_stops_when_the_reader_goes_away(workdir, tmp_path):
    # yes 1+2 | python -m jaxadd.predict | head -1: an endless input must not
    # keep it answering into a pipe nobody reads.
    endless = subprocess.Popen(["yes", "1+2"], stdout=subprocess.PIPE)
    with open(tmp_path / "stderr", "w+") as stderr:
        proc = subprocess.Popen(
            command(PREDICT, f"--workdir={workdir}", "--show_confidence"),
            stdin=endless.stdout,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=ENV,
            cwd=ROOT,
        )
        endless.stdout.close()
        try:
            first = proc.stdout.readline()
            proc.stdout.close()
            code = wait_for(proc, timeout=60)
        finally:
            endless.kill()
            endless.wait()
        stderr.seek(0)
        text = stderr.read()
    assert re.fullmatch(ANSWER, first.decode().strip("\n"))
    result = subprocess.CompletedProcess([], code, "", text)
    assert "Traceback" not in text
    line = error_line(result, PREDICT)
    assert line.endswith("cannot write to standard output: the reader closed the pipe")


def test_evaluate_without_a_reader_is_one_error_line(workdir, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(workdir, run_dir)
    with open(tmp_path / "stderr", "w+") as stderr:
        proc = subprocess.Popen(
            command(EVALUATE, f"--workdir={run_dir}", "--per_bucket=20"),
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=ENV,
            cwd=ROOT,
        )
        proc.stdout.close()  # the reader is gone before the table comes
        code = wait_for(proc)
        stderr.seek(0)
        text = stderr.read()
    assert "Traceback" not in text
    line = error_line(subprocess.CompletedProcess([], code, "", text), EVALUATE)
    assert "cannot write to standard output: the reader closed the pipe" in line
    # The report itself was written, and the line says so.
    assert "evaluation.json was written" in line
    assert (run_dir / "evaluation.json").is_file()


# 4. Flags absl refuses, and ours.


@pytest.mark.parametrize(
    "prog,flag,fragment",
    [
        (PREDICT, "--batch_size=abc", "flag --batch_size=abc: invalid literal"),
        (PREDICT, "--nope", "Unknown command line flag 'nope'"),
        (PREDICT, "--batch_size=0", "batch_size must be > 0, got 0"),
        (EVALUATE, "--per_bucket=x", "flag --per_bucket=x: invalid literal"),
        (EVALUATE, "--nope", "Unknown command line flag 'nope'"),
        (EVALUATE, "--batch_size=abc", "Unknown command line flag 'batch_size'"),
        (EVALUATE, "--per_bucket=0", "per_bucket must be > 0, got 0"),
        (EVALUATE, "--seed=-1", "--seed must be in 0..2147483647, got -1"),
        (EVALUATE, "--seed=2147483648", "--seed must be in 0..2147483647, got 2147"),
        (EVALUATE, "extra", "unexpected arguments extra"),
    ],
)
def test_bad_flag_is_one_error_line(workdir, prog, flag, fragment):
    extra = ["1+2"] if prog == PREDICT else []
    result = run(prog, f"--workdir={workdir}", flag, *extra, timeout=60)
    assert fragment in error_line(result, prog)
    assert result.stdout == ""


# 5. Workdirs that are not one.


@pytest.mark.parametrize("prog", [PREDICT, EVALUATE])
@pytest.mark.parametrize(
    "case,fragment",
    [
        ("regular file", "is not a directory"),
        ("missing", "does not exist"),
        ("under a file", "does not exist: part of its path is not a directory"),
        ("name too long", "cannot read workdir"),
    ],
)
def test_workdir_that_is_not_a_directory_is_named_so(tmp_path, prog, case, fragment):
    file = tmp_path / "file"
    file.write_text("not a run\n")
    path = {
        "regular file": file,
        "missing": tmp_path / "missing",
        "under a file": file / "run",
        "name too long": tmp_path / ("x" * 300),
    }[case]
    extra = ["1+2"] if prog == PREDICT else []
    result = run(prog, f"--workdir={path}", *extra, timeout=60)
    line = error_line(result, prog)
    assert fragment in line
    if case == "regular file":
        assert "does not exist" not in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads despite permissions")
@pytest.mark.parametrize("prog", [PREDICT, EVALUATE])
def test_unreadable_workdir_is_one_error_line(workdir, tmp_path, prog):
    run_dir = tmp_path / "run"
    shutil.copytree(workdir, run_dir)
    run_dir.chmod(0)
    try:
        extra = ["1+2"] if prog == PREDICT else []
        result = run(prog, f"--workdir={run_dir}", *extra, timeout=60)
    finally:
        run_dir.chmod(0o755)
    assert "cannot read workdir" in error_line(result, prog)


# 6. Sizes that cannot fit in memory.


def _config_only_workdir(tmp_path: pathlib.Path, digits: int) -> pathlib.Path:
    # The memory checks come before any checkpoint is read: a config suffices.
    run_dir = tmp_path / f"digits{digits}"
    run_dir.mkdir()
    config = Config(digits=digits, training_size=600, hidden_size=16)
    (run_dir / "config.json").write_text(json.dumps({"config": config.to_dict()}))
    return run_dir


def test_enormous_per_bucket_is_refused_before_allocating(tmp_path):
    run_dir = _config_only_workdir(tmp_path, 10)
    started = time.monotonic()
    result = run(EVALUATE, f"--workdir={run_dir}", f"--per_bucket={10**12}")
    line = error_line(result, EVALUATE)
    assert time.monotonic() - started < 60
    assert f"--per_bucket={10**12} needs about" in line
    assert "GiB is available" in line
    assert not (run_dir / "evaluation.json").exists()


def test_memory_estimate_counts_only_problems_that_exist():
    # Two digits hold 5,050 unordered problems: asking for more changes nothing.
    assert evaluate.memory_needed(2, 10**12) == evaluate.memory_needed(2, 10**5)
    assert sum(evaluate.bucket_sizes(2, 10**12)[:3]) == 5050
    assert len(evaluate.bucket_sizes(4, 10)) == 5 + 10 + 1 + 1
    assert evaluate.memory_needed(10, 10**6) > 100 * evaluate.memory_needed(10, 10**3)


def test_memory_estimate_bounds_what_evaluate_builds(monkeypatch):
    digits, per_bucket = 3, 20_000
    config = Config(digits=digits)

    def answer_anything(model):
        def predict_fn(params, queries):
            n = len(queries)
            return np.zeros((n, digits + 1), np.int32), np.ones(n, np.float32)

        return predict_fn

    monkeypatch.setattr(evaluate, "_predict_fn", answer_anything)
    monkeypatch.setattr("jaxadd.train.make_model", lambda config: None)
    tracemalloc.start()
    try:
        buckets = evaluate.build_suites(digits, per_bucket, 0)
        evaluate.score_buckets(config, None, buckets)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    need = evaluate.memory_needed(digits, per_bucket)
    assert peak <= need <= 3 * peak, (peak, need)


def test_huge_batch_size_is_refused_for_stdin(workdir):
    result = run(PREDICT, f"--workdir={workdir}", f"--batch_size={10**12}")
    line = error_line(result, PREDICT)
    assert f"--batch_size={10**12} needs about" in line
    assert "use a smaller --batch_size" in line


def test_huge_batch_size_is_fine_for_a_few_problems(workdir):
    # The batch is never larger than the problems given.
    result = run(
        PREDICT, f"--workdir={workdir}", f"--batch_size={10**12}", "1+2", "3+4"
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2


# 7. evaluation.json where it cannot be written.


def test_failed_report_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "evaluation.json"
    path.write_text('{"old": true}\n')

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(checkpoint.WorkdirError, match="No space left on device"):
        evaluate.write_report(str(path), {"new": True})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evaluation.json"]
    assert json.loads(path.read_text()) == {"old": True}


def _mount(args: list[str]) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    try:
        subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as err:
        pytest.skip(f"cannot mount: {err}")


def _umount(path: pathlib.Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True, timeout=30)


def test_read_only_workdir_is_one_error_line(workdir, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(workdir, run_dir)
    _mount(["--bind", str(run_dir), str(run_dir)])
    try:
        _mount(["-o", "remount,ro,bind", str(run_dir)])
        result = run(EVALUATE, f"--workdir={run_dir}", "--per_bucket=20")
    finally:
        _umount(run_dir)
    line = error_line(result, EVALUATE)
    assert f"cannot write {run_dir}/evaluation.json" in line
    assert sorted(os.listdir(run_dir)) == sorted(os.listdir(workdir))


def test_full_disk_is_one_error_line_and_no_temporary_file(workdir, tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    _mount(["-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)])
    try:
        run_dir = mount / "run"
        shutil.copytree(workdir, run_dir)
        (run_dir / "evaluation.json").unlink(missing_ok=True)
        # Unbuffered: the file takes every block left, and closes without error.
        with open(mount / "filler", "wb", buffering=0) as filler:
            with contextlib.suppress(OSError):
                while True:
                    filler.write(b"\0" * 4096)
        result = run(EVALUATE, f"--workdir={run_dir}", "--per_bucket=20")
        left = sorted(os.listdir(run_dir))
    finally:
        _umount(mount)
    line = error_line(result, EVALUATE)
    assert "evaluation.json: No space left on device" in line
    assert "evaluation.json.tmp" not in left
    assert "evaluation.json" not in left


# 8. Ctrl-C and SIGTERM.


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_while_answering_stdin(workdir, signum, code):
    proc = subprocess.Popen(
        command(PREDICT, f"--workdir={workdir}", "--batch_size=1", "--show_confidence"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        cwd=ROOT,
    )
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    try:
        proc.stdin.write(b"1+2\n")
        proc.stdin.flush()
        first = proc.stdout.readline()  # the model is loaded and answering
        time.sleep(0.5)  # for the count of answers written to catch up
        proc.send_signal(signum)
        returncode = wait_for(proc, timeout=30)
    finally:
        watchdog.cancel()
        proc.stdin.close()  # only now: an EOF must not be what ends it
    err = proc.stderr.read().decode()
    assert "Traceback" not in err
    assert re.fullmatch(ANSWER, first.decode().strip("\n"))
    result = subprocess.CompletedProcess([], returncode, "", err)
    line = error_line(result, PREDICT, code)
    name = signal.Signals(signum).name
    assert line == f"jaxadd.predict: interrupted by {name}; 1 answer(s) written"


@pytest.mark.parametrize(
    "prog,signum,code",
    [
        (PREDICT, signal.SIGINT, 130),
        (EVALUATE, signal.SIGINT, 130),
        (EVALUATE, signal.SIGTERM, 143),
    ],
)
def test_signal_while_starting_or_working(workdir, tmp_path, prog, signum, code):
    # 1.5 s in, the program is importing jax, loading or compiling, never done.
    run_dir = tmp_path / "run"
    shutil.copytree(workdir, run_dir)
    args = ["1+2"] if prog == PREDICT else ["--per_bucket=20"]
    proc = subprocess.Popen(
        command(prog, f"--workdir={run_dir}", *args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        cwd=ROOT,
    )
    time.sleep(1.5)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    result = subprocess.CompletedProcess(
        [], proc.returncode, out.decode(), err.decode()
    )
    assert "Traceback" not in result.stdout + result.stderr
    line = error_line(result, prog, code)
    assert f"by {signal.Signals(signum).name}; " in line
    assert not (run_dir / "evaluation.json.tmp").exists()


# 9. An output encoding without the table's marks.


def test_ascii_stdout_gets_ascii_marks(workdir, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(workdir, run_dir)
    result = run(
        EVALUATE,
        f"--workdir={run_dir}",
        "--per_bucket=20",
        env=dict(ENV, PYTHONIOENCODING="ascii"),
    )
    assert result.returncode == 0, result.stderr
    marks = [line.split()[3] for line in result.stdout.splitlines() if " = " in line]
    assert marks and set(marks) <= set(evaluate.ASCII_MARKS)
