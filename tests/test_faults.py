"""Faults and misuse of `jaxadd.main`: one line, a known exit code, nothing lost.

Each class of fault gets its tests: concurrency (the workdir lock), paths,
tampered workdirs, signals, I/O errors (closed or full outputs, read-only and
full disks), resources and the multi-host and absl flags. The disk faults need
root (a tmpfs, a read-only bind mount) and are skipped without it.
"""

import contextlib
import io
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from jaxadd import checkpoint, cli

FLAGS = [
    # The 3-digit defaults with these changes, not the 2-digit recipe.
    "--config=default",
    "--digits=2",
    "--training_size=600",
    "--batch_size=32",
    "--hidden_size=16",
    "--lr_schedule=constant",
    "--num_samples=1",
    "--seed=4",
]
EPOCHS = 6
TIMING = {"train_examples_per_sec", "epoch_sec", "elapsed_sec"}
TIMEOUT = 300
ENV = dict(os.environ, JAX_PLATFORMS="cpu")


def command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "jaxadd.main", *FLAGS, *extra]


def run_main(*extra: str, **kwargs) -> subprocess.CompletedProcess:
    if "stdout" not in kwargs:
        kwargs["capture_output"] = True
    kwargs.setdefault("env", ENV)
    result = subprocess.run(command(*extra), text=True, timeout=TIMEOUT, **kwargs)
    assert "Traceback" not in (result.stdout or "") + (result.stderr or "")
    return result


def one_error(result: subprocess.CompletedProcess, start: str = "jaxadd: error: "):
    """The single stderr line of a failed run, checked to start with ``start``."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(start), lines[0]
    return lines[0]


def metrics(workdir: pathlib.Path) -> list[dict]:
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    return [
        {k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines
    ]


def contents(workdir: pathlib.Path) -> dict[str, bytes]:
    """Every file and directory under ``workdir`` (the lock's pid aside).

    Only regular files are read: FIFOs and devices stand for themselves.
    """
    return {
        str(path.relative_to(workdir)): (
            path.read_bytes() if path.is_file() else str(path.lstat().st_mode)
        )
        for path in workdir.rglob("*")
        if path.name != "lock" and not path.is_dir()
    }


def stray_files(workdir: pathlib.Path) -> list[str]:
    return [str(p) for p in workdir.rglob("*") if "tmp" in p.name]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pathlib.Path:
    """An uninterrupted run of EPOCHS epochs."""
    workdir = tmp_path_factory.mktemp("faults") / "reference"
    result = run_main(f"--epochs={EPOCHS}", f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr
    return workdir


@pytest.fixture
def copy(reference, tmp_path) -> pathlib.Path:
    workdir = tmp_path / "run"
    shutil.copytree(reference, workdir)
    return workdir


def wait_for(predicate, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        assert process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no {what} in time"
        time.sleep(0.01)


def start(workdir: pathlib.Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        command(f"--workdir={workdir}", *extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def has_epoch(workdir: pathlib.Path) -> Callable:
    path = workdir / "metrics.jsonl"
    return lambda: path.exists() and path.read_text().strip() != ""


# Concurrency -------------------------------------------------------------


def test_second_run_on_a_busy_workdir_is_refused_and_touches_nothing(tmp_path):
    workdir = tmp_path / "run"
    # Many epochs: the first run is still training when the others start.
    first = start(workdir, "--epochs=100000")
    try:
        wait_for(has_epoch(workdir), first, "first epoch")
        for flags in ([], ["--hidden_size=32"]):  # the same run, and another
            error = one_error(
                run_main(f"--workdir={workdir}", "--epochs=100000", *flags)
            )
            assert f"in use by process {first.pid}" in error
        assert first.poll() is None, "the refused runs stopped the first one"
        first.send_signal(signal.SIGINT)
        _, stderr = first.communicate(timeout=TIMEOUT)
    finally:
        with contextlib.suppress(ProcessLookupError):
            first.kill()
    assert first.returncode == 130, stderr
    epochs = [m["epoch"] for m in metrics(workdir)]
    assert epochs == list(range(1, len(epochs) + 1))  # each once, in order


def test_refusing_other_settings_happens_before_any_cleanup(copy):
    # An unfinished checkpoint directory as a kill leaves it: orbax would clear
    # it when set up, so its survival shows that the refusal came first.
    (copy / "checkpoints" / "7.orbax-checkpoint-tmp").mkdir()
    before = contents(copy)
    error = one_error(run_main(f"--workdir={copy}", "--hidden_size=32"))
    assert "holds a run with other settings" in error
    assert contents(copy) == before


def test_killed_holder_leaves_no_stale_lock(tmp_path):
    workdir = tmp_path / "run"
    holder = start(workdir, "--epochs=100000")
    try:
        wait_for(lambda: (workdir / "lock").exists(), holder, "lock")
    finally:
        holder.kill()
        holder.wait()
    result = run_main(f"--workdir={workdir}", "--epochs=1")
    assert result.returncode == 0, result.stderr


# Paths -------------------------------------------------------------------


def test_glob_characters_in_the_path_are_refused_before_writing(tmp_path):
    workdir = tmp_path / "run[1]"
    error = one_error(run_main(f"--workdir={workdir}", "--epochs=1"))
    assert "glob pattern" in error
    assert not workdir.exists()


@pytest.mark.parametrize("name", ["run*", "what?", "a[b]c"])
def test_every_glob_character_is_refused(tmp_path, name):
    with pytest.raises(checkpoint.WorkdirError, match="glob pattern"):
        checkpoint.check_path(str(tmp_path / name))
    checkpoint.check_path(str(tmp_path / "fine-name_1.0 {x}"))


def test_workdir_that_is_a_file(tmp_path):
    path = tmp_path / "file"
    path.write_text("mine\n")
    error = one_error(run_main(f"--workdir={path}", "--epochs=1"))
    assert "is a file, not a directory" in error
    assert path.read_text() == "mine\n"


# Tampering ---------------------------------------------------------------


def _remove_checkpoints(workdir):
    shutil.rmtree(workdir / "checkpoints")


def _checkpoints_a_file(workdir):
    shutil.rmtree(workdir / "checkpoints")
    (workdir / "checkpoints").write_text("not a directory\n")


def _remove_config(workdir):
    (workdir / "config.json").unlink()


def _remove_digests(workdir):
    (workdir / "checkpoint_digests.json").unlink()


def _corrupt_digests(workdir):
    (workdir / "checkpoint_digests.json").write_text("{not json")


@pytest.mark.parametrize(
    "tamper,fragment,extra",
    [
        (_remove_checkpoints, f"records {EPOCHS} epoch(s) but", []),
        (_checkpoints_a_file, "is not a directory", []),
        # Another seed: without config.json nothing could tell it apart.
        (_remove_config, "has checkpoints but no config.json", ["--seed=9"]),
        (_remove_digests, "no checkpoint_digests.json", []),
        (_corrupt_digests, "unreadable or corrupt", []),
    ],
)
def test_tampered_workdir_is_refused_and_left_as_it_is(copy, tamper, fragment, extra):
    tamper(copy)
    before = contents(copy)
    error = one_error(run_main(f"--workdir={copy}", f"--epochs={EPOCHS + 2}", *extra))
    assert fragment in error
    assert contents(copy) == before


def test_checkpoint_without_digests_is_trained_again(copy, reference):
    # As if killed after the newest checkpoint but before its digests.
    path = copy / "checkpoint_digests.json"
    digests = json.loads(path.read_text())
    del digests[str(EPOCHS)]
    path.write_text(json.dumps(digests))
    result = run_main(f"--workdir={copy}", f"--epochs={EPOCHS}")
    assert result.returncode == 0, result.stderr
    assert f"after epoch {EPOCHS - 1}" in result.stdout
    assert metrics(copy) == metrics(reference)


@pytest.mark.parametrize("program", ["jaxadd.main", "jaxadd.predict"])
def test_config_that_disagrees_with_the_checkpoints(copy, program):
    path = copy / "config.json"
    info = json.loads(path.read_text())
    info["config"]["hidden_size"] = 24
    path.write_text(json.dumps(info))
    before = contents(copy)
    if program == "jaxadd.main":
        # The flags of the edited config.json: only the checkpoints disagree.
        flags = [f for f in FLAGS if not f.startswith("--hidden_size")]
        args = [*flags, "--hidden_size=24", f"--epochs={EPOCHS + 1}"]
    else:
        args = ["1+2"]
    result = subprocess.run(
        [sys.executable, "-m", program, f"--workdir={copy}", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=ENV,
    )
    prog = "jaxadd" if program == "jaxadd.main" else program
    error = one_error(result, f"{prog}: error: ")
    assert "disagrees with its checkpoint" in error
    assert "config.json implies" in error
    assert contents(copy) == before


@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero"])
@pytest.mark.parametrize("program", ["jaxadd.main", "jaxadd.predict"])
def test_a_checkpoint_file_that_is_no_file_is_never_read(copy, kind, program):
    # orbax reads every checkpoint's metadata file when it lists them: a FIFO
    # would block it forever, /dev/zero fill the memory.
    victim = copy / "checkpoints" / str(EPOCHS) / "_CHECKPOINT_METADATA"
    victim.unlink()
    if kind == "fifo":
        os.mkfifo(victim)
    else:
        victim.symlink_to("/dev/zero")
    before = contents(copy)
    args = [f"--workdir={copy}"]
    args += FLAGS + [f"--epochs={EPOCHS}"] if program == "jaxadd.main" else ["1+2"]
    result = subprocess.run(
        [sys.executable, "-m", program, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert "not a regular file" in one_error(
        result, f"{program.replace('jaxadd.main', 'jaxadd')}: error: "
    )
    assert contents(copy) == before


# Signals -----------------------------------------------------------------


@pytest.mark.parametrize(
    "signum,code",
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
)
def test_signal_mid_run_stops_with_one_line_and_resumes_exactly(
    reference, tmp_path, signum, code
):
    # A kill at any moment resumes exactly (test_resume); a signal must too.
    workdir = tmp_path / "run"
    process = start(workdir, f"--epochs={EPOCHS}")
    try:
        wait_for(has_epoch(workdir), process, "first epoch")
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    if process.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert process.returncode == code, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxadd: interrupted by "), stderr
    assert "finished epoch(s) kept" in lines[0]
    assert not stray_files(workdir)
    if signum != signal.SIGINT:
        return  # the same stop as SIGINT's: resuming once is checked there
    result = run_main(f"--workdir={workdir}", f"--epochs={EPOCHS}")
    assert result.returncode == 0, result.stderr
    assert metrics(workdir) == metrics(reference)


def test_ctrl_c_while_compiling_is_one_line(tmp_path):
    process = start(tmp_path / "run", "--epochs=2", "--hidden_size=256")
    time.sleep(4)  # past the imports, usually while XLA compiles
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=TIMEOUT)
    if process.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert process.returncode == 130, stderr  # never 139, a crash in teardown
    assert len(stderr.splitlines()) == 1, stderr


# I/O errors --------------------------------------------------------------


def test_stdout_to_a_full_device(tmp_path):
    with open("/dev/full", "w") as full:
        result = run_main(
            f"--workdir={tmp_path / 'run'}",
            "--epochs=2",
            stdout=full,
            stderr=subprocess.PIPE,
        )
    assert "No space left on device" in one_error(result)


def test_closed_stdout(tmp_path):
    result = run_main(
        f"--workdir={tmp_path / 'run'}", "--epochs=2", preexec_fn=lambda: os.close(1)
    )
    assert "standard output is closed" in one_error(result)
    assert not (tmp_path / "run").exists()


def test_reader_that_goes_away_keeps_what_was_written(tmp_path):
    # As `jaxadd.main | head -1`: the pipe closes after the first line.
    workdir = tmp_path / "run"
    process = subprocess.Popen(
        command(f"--workdir={workdir}", "--epochs=100000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    process.stdout.readline()
    process.stdout.close()
    _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1, stderr
    assert stderr.splitlines() == [
        "jaxadd: error: cannot write to standard output: the reader closed the pipe"
    ]
    epochs = [m["epoch"] for m in metrics(workdir)]
    assert epochs == list(range(1, len(epochs) + 1))


def test_output_encoding_without_the_marks(tmp_path):
    result = run_main(
        f"--workdir={tmp_path / 'run'}",
        "--epochs=1",
        env=dict(ENV, PYTHONIOENCODING="ascii"),
    )
    assert result.returncode == 0, result.stderr
    assert " XX " in result.stdout or " ok " in result.stdout


def _mount(*args: str) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8)")
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"mount {' '.join(args)} failed: {result.stderr.strip()}")


def test_read_only_workdir(copy):
    before = contents(copy)
    _mount("--bind", "-o", "ro", str(copy), str(copy))
    try:
        error = one_error(run_main(f"--workdir={copy}", f"--epochs={EPOCHS + 1}"))
    finally:
        subprocess.run(["umount", str(copy)], check=True)
    assert "Read-only file system" in error
    assert contents(copy) == before


def test_immutable_metrics_file(copy):
    # chattr +i: even root cannot replace it, so resuming cannot rewrite it.
    metrics_path = copy / "metrics.jsonl"
    if shutil.which("chattr") is None or os.geteuid() != 0:
        pytest.skip("needs root and chattr(1)")
    if subprocess.run(["chattr", "+i", str(metrics_path)]).returncode != 0:
        pytest.skip("this file system has no immutable files")
    try:
        before = contents(copy)
        error = one_error(run_main(f"--workdir={copy}", f"--epochs={EPOCHS + 2}"))
        assert "Operation not permitted" in error
        assert contents(copy) == before
        assert not stray_files(copy)
    finally:
        subprocess.run(["chattr", "-i", str(metrics_path)], check=True)


def test_full_disk_keeps_every_finished_epoch_and_resumes_exactly(reference, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount("-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk))
    try:
        workdir = disk / "run"
        result = run_main(f"--workdir={workdir}", "--epochs=2")
        assert result.returncode == 0, result.stderr
        # Fill the disk to within less than one checkpoint (about 130 KB).
        free = shutil.disk_usage(disk).free
        (disk / "filler").write_bytes(b"\0" * (free - 60_000))
        result = run_main(f"--workdir={workdir}", f"--epochs={EPOCHS}")
        error = one_error(result)
        assert "No space left on device" in error
        assert "kept (newest: epoch 2)" in error
        assert [m["epoch"] for m in metrics(workdir)] == [1, 2]
        assert not stray_files(workdir)
        (disk / "filler").unlink()
        result = run_main(f"--workdir={workdir}", f"--epochs={EPOCHS}")
        assert result.returncode == 0, result.stderr
        assert metrics(workdir) == metrics(reference)
    finally:
        subprocess.run(["umount", str(disk)], check=True)


# Resources ---------------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [["--hidden_size=30000"], ["--digits=18", "--training_size=1000000000"]],
)
def test_runs_too_big_for_memory_are_refused_before_allocating(tmp_path, flags):
    start_time = time.monotonic()
    result = run_main(f"--workdir={tmp_path / 'run'}", *flags)
    error = one_error(result)
    assert "of host memory" in error and "GiB available" in error
    assert time.monotonic() - start_time < 60  # refused, not attempted


# Flags -------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags,fragment",
    [
        (["--coordinator_address=localhost"], "coordinator_address must be HOST:PORT"),
        (["--coordinator_address=h:99999"], "coordinator_address must be HOST:PORT"),
        (["--num_processes=2", "--process_id=2"], "process_id must be in 0..1"),
        (["--distributed", "--distributed_timeout=0"], "distributed_timeout must"),
        (["--digits=abc"], "--digits"),
        (["--nope"], "nope"),
        (["--lr_schedule=sometimes"], "lr_schedule"),
        (["--workdir="], "--workdir is empty"),
    ],
)
def test_bad_flags_are_one_line(flags, fragment):
    assert fragment in one_error(run_main(*flags))


def test_a_coordinator_that_never_answers_times_out(tmp_path):
    # A port on this machine that nothing listens on: JAX alone would wait
    # minutes, then abort the process.
    start_time = time.monotonic()
    result = run_main(
        f"--workdir={tmp_path / 'run'}",
        "--coordinator_address=127.0.0.1:9",
        "--num_processes=2",
        "--process_id=1",
        "--distributed_timeout=2",
    )
    assert "did not start within 2 s" in one_error(result)
    assert time.monotonic() - start_time < 60


def test_a_line_said_while_stray_errors_are_held_is_not_held(monkeypatch):
    # A signal's line can come while a checkpoint restore holds stderr back
    # (jaxadd.predict, Ctrl-C 1.5 s in): it must reach the real stderr.
    real = io.StringIO()
    monkeypatch.setattr(sys, "stderr", real)
    with cli.stray_errors_held():
        print("stray", file=sys.stderr)
        cli.say("jaxadd", "error", "interrupted")
        assert real.getvalue() == "jaxadd: error: interrupted\n"
    assert real.getvalue() == "jaxadd: error: interrupted\nstray\n"
