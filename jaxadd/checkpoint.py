"""What a run keeps in its workdir, and how it picks up after a crash.

Files under ``workdir``::

    config.json       every setting, parameter count, versions, devices
    metrics.jsonl     one JSON object per finished epoch, each epoch once
    checkpoints/<epoch>/  orbax checkpoint: params, optimizer state, step, and
                      the metrics history up to that epoch
    checkpoint_digests.json  SHA-256 of every file of each kept checkpoint
    lock              held (``flock``) by the process training there

After each epoch the checkpoint is written first (orbax writes to a temporary
directory and renames it, so a kill mid-write leaves the previous checkpoint
whole), its digests second and the metrics line third. A restart restores the
newest readable checkpoint and rewrites ``metrics.jsonl`` from the history
stored inside it, so the file never misses an epoch that a checkpoint covers and
never repeats one. A checkpoint whose files no longer match their digests is
passed over (for the one before it) without being read: orbax, once it has
started reading a damaged checkpoint, leaves reads in flight that print
tracebacks long after it failed.
A checkpoint counts only once its digests are recorded: one without them (a
kill between the two writes, or a digests file that lost it) is never read; a
resumed run trains that epoch again, to the same numbers.

Before anything is written, the workdir must be free and consistent: another
process holding its lock, a ``config.json`` with other settings, checkpoints
without a ``config.json`` or without their digests file, or metrics without
checkpoints each end the run with one line and leave every file as it was.
The order of the data needs no saving: epoch ``k`` is shuffled with a key made
from the seed and ``k`` alone (see ``train.epoch_key``). Checkpoints hold arrays
and JSON only (no pickle), so loading one runs no code from the file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
from flax.training import train_state

from jaxadd import cli
from jaxadd.config import RESUMABLE_FIELDS, Config

if TYPE_CHECKING:
    import orbax.checkpoint as ocp

KEEP_CHECKPOINTS = 3
DIGESTS_FILE = "checkpoint_digests.json"
LOCK_FILE = "lock"
# What a --num_seeds run writes beside its seed_K workdirs (jaxadd.seeds).
SWEEP_FILE = "seeds.json"
# What orbax names a checkpoint while it is being written.
_ORBAX_TMP = ".orbax-checkpoint-tmp"


def _orbax():
    """``orbax.checkpoint``, imported on first use.

    Importing it takes about 0.2 s on a 2-core CPU, which runs without a
    workdir (tests, notebooks, the benchmark) need not pay.
    """
    import orbax.checkpoint

    return orbax.checkpoint


class WorkdirError(RuntimeError):
    """A workdir that cannot be used as asked; the message is one line."""


def is_primary() -> bool:
    """Whether this process writes the workdir's files (process 0 of a run).

    With several processes (multi-host) every one runs the same program, so
    only one may write ``config.json`` and ``metrics.jsonl``; orbax checkpoints
    are the exception: every process calls ``save`` and orbax coordinates them.
    """
    return jax.process_index() == 0


def _append_line(path: str, line: str) -> None:
    """Appends ``line`` whole, or leaves the file as it was (a full disk)."""
    append_whole(path, (line + "\n").encode())


def append_whole(path: str, data: bytes) -> None:
    """Appends ``data`` whole and synced, or leaves the file as it was.

    Raises:
      OSError: it could not be written; the file is truncated back.
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        except BaseException:
            # Half a record would make the file unreadable for every reader.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def _why(err: OSError) -> str:
    return err.strerror or cli.first_line(err)


def check_path(workdir: str) -> None:
    """Refuses a workdir path that orbax would write but never read back.

    orbax finds parts of a checkpoint with glob patterns built from its path,
    so ``*``, ``?`` or ``[`` in the path would be read as patterns.

    Raises:
      WorkdirError: the path has such a character, or names a non-directory.
    """
    path = os.path.abspath(workdir)
    if glob.escape(path) != path:
        bad = next(c for c in path if c in "*?[")
        raise WorkdirError(
            f"workdir {workdir}: {bad!r} in its path is a glob pattern to orbax, "
            "which could not read its checkpoints back; use a path without "
            "* ? or ["
        )
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise WorkdirError(f"workdir {workdir} is a file, not a directory")


def check_not_sweep(workdir: str) -> None:
    """Refuses to train one seed in the workdir of a ``--num_seeds`` run.

    Raises:
      WorkdirError: ``workdir`` holds ``SWEEP_FILE``.
    """
    if os.path.exists(os.path.join(workdir, SWEEP_FILE)):
        raise WorkdirError(
            f"workdir {workdir} holds a run of several seeds ({SWEEP_FILE}): "
            "resume it with its --num_seeds, or give one of its seed_K folders"
        )


def check_sweep_dir(workdir: str) -> None:
    """Refuses to train several seeds in the workdir of a single run.

    Raises:
      WorkdirError: the path is unusable (``check_path``), or ``workdir``
        holds a single run's ``config.json`` or ``metrics.jsonl``.
    """
    check_path(workdir)
    for name in ("config.json", "metrics.jsonl"):
        if os.path.exists(os.path.join(workdir, name)):
            raise WorkdirError(
                f"workdir {workdir} holds a single-seed run ({name}); use "
                "another --workdir for --num_seeds"
            )


def read_config(workdir: str) -> dict[str, Any]:
    """The ``config.json`` of a workdir; ``WorkdirError`` if missing or unreadable."""
    path = os.path.join(workdir, "config.json")
    try:
        with open(path) as f:
            info = json.load(f)
        Config.from_dict(info["config"]).validate()
    except FileNotFoundError:
        raise WorkdirError(
            f"{workdir} has no config.json: not a jaxadd workdir"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise WorkdirError(f"{path} is unreadable or corrupt: {err}") from err
    return info


def read_run_config(workdir: str) -> Config:
    """The ``Config`` a workdir's run was trained with; nothing there is written.

    Raises:
      WorkdirError: no such directory, a path that is not one, one that cannot
        be read, or no readable ``config.json``.
    """
    try:
        mode = os.stat(workdir).st_mode
    except FileNotFoundError:
        raise WorkdirError(f"workdir {workdir} does not exist") from None
    except NotADirectoryError:
        raise WorkdirError(
            f"workdir {workdir} does not exist: part of its path is not a directory"
        ) from None
    except OSError as err:
        raise WorkdirError(f"cannot read workdir {workdir}: {_why(err)}") from None
    if not stat.S_ISDIR(mode):
        raise WorkdirError(f"workdir {workdir} is not a directory")
    if not os.access(workdir, os.R_OK | os.X_OK):
        raise WorkdirError(f"cannot read workdir {workdir}: permission denied")
    return Config.from_dict(read_config(workdir)["config"])


def config_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``name old -> new`` for each setting that changes what the run computes."""
    resumable = set(RESUMABLE_FIELDS)
    if "cosine" in (old.get("lr_schedule"), new.get("lr_schedule")):
        # The cosine decay spans all epochs: their number sets every step's rate.
        resumable.discard("epochs")
    return [
        f"{name} {old.get(name)!r} -> {new.get(name)!r}"
        for name in sorted(set(old) | set(new))
        if name not in resumable and old.get(name) != new.get(name)
    ]


def _state_tree(state: train_state.TrainState) -> dict[str, Any]:
    return {"params": state.params, "opt_state": state.opt_state, "step": state.step}


class _ChangedFiles(ValueError):
    """A checkpoint's files differ from the digests recorded when it was saved."""


def _describe(err: BaseException) -> str:
    """``Type: first line of the message``, short enough for one log line."""
    if isinstance(err, _ChangedFiles):
        return str(err)
    # orbax wraps tensorstore's precise error (e.g. "OUT_OF_RANGE: Error reading
    # ...") in a generic one; the innermost cause says what is damaged.
    while err.__cause__ is not None:
        err = err.__cause__
    lines = str(err).strip().splitlines()
    text = f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


class _NotRegular(OSError):
    """A checkpoint file that is a FIFO, a device or a directory."""


def _sha256(path: str) -> str:
    # Non-blocking open and a type check first: reading a FIFO or a terminal
    # put in place of a checkpoint file would wait forever.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _NotRegular(errno.EINVAL, "not a regular file")
        digest = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_digests(step_dir: str) -> dict[str, str]:
    """SHA-256 of every file under ``step_dir``, by path relative to it."""
    digests = {}
    for root, _, files in os.walk(step_dir):
        for name in files:
            path = os.path.join(root, name)
            digests[os.path.relpath(path, step_dir)] = _sha256(path)
    return digests


def _saved_steps(directory: str) -> list[int]:
    """The epochs with a checkpoint directory in ``directory``, as orbax names them."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    except OSError as err:
        raise WorkdirError(f"cannot read {directory}: {_why(err)}") from err
    return sorted(int(name) for name in names if name.isdigit())


def _check_file_types(directory: str) -> None:
    """Refuses a checkpoint tree holding anything but files and directories.

    orbax opens every checkpoint's metadata file as soon as it lists them:
    a FIFO there would block it forever, a link to ``/dev/zero`` fill memory.

    Raises:
      WorkdirError: naming the first such entry.
    """
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(root, name)
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise WorkdirError(
                    f"{path} is not a regular file (a link, FIFO or device): "
                    "checkpoints hold only files; remove it, or that checkpoint"
                )


def _read_digests(workdir: str, steps: list[int]) -> dict[str, dict[str, str]]:
    """The recorded digests by epoch (as a string).

    Raises:
      WorkdirError: checkpoints exist but their digests cannot be read: without
        them a flipped byte would be trained on without a word.
    """
    path = os.path.join(workdir, DIGESTS_FILE)
    try:
        with open(path) as f:
            digests = json.load(f)
        if not isinstance(digests, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        if steps:
            raise WorkdirError(
                f"{workdir} has checkpoints but no {DIGESTS_FILE}: they cannot "
                "be verified; restore the file or use another --workdir"
            ) from None
        return {}
    except (OSError, ValueError) as err:
        if not steps:
            return {}
        raise WorkdirError(
            f"{path} is unreadable or corrupt ({cli.first_line(err)}): the "
            "checkpoints cannot be verified; restore it or use another --workdir"
        ) from err
    return digests


def _digest_problem(step_dir: str, expected: Any) -> str | None:
    """What differs from the recorded digests, or ``None`` if nothing does."""
    if not isinstance(expected, dict) or not expected:
        return "its digests were never recorded (the run stopped while saving it)"
    for name, digest in sorted(expected.items()):
        try:
            actual = _sha256(os.path.join(step_dir, name))
        except FileNotFoundError:
            return f"{name} is missing"
        except OSError as err:
            return f"{name} is unreadable: {_why(err)}"
        if actual != digest:
            return f"{name} has changed since it was written"
    return None


def _shapes(tree: Any) -> dict[str, tuple[int, ...]]:
    leaves = jax.tree_util.tree_leaves_with_path(
        tree, is_leaf=lambda x: hasattr(x, "shape")
    )
    return {jax.tree_util.keystr(path): tuple(x.shape) for path, x in leaves}


def _shape_problem(step_dir: str, params: Any) -> str | None:
    """How the stored parameters' shapes differ from ``params``'s, or ``None``.

    Read from the checkpoint's metadata before any array: orbax pads or fails
    on a shape it was not given, and a failed read leaves reads in flight.
    A checkpoint whose metadata cannot be read is left to the restore.
    """
    from etils import epath

    try:
        meta = (
            _orbax()
            .StandardCheckpointHandler()
            .metadata(epath.Path(step_dir) / "state")
        )
        stored = _shapes(getattr(meta, "tree", meta)["params"])
    except Exception:  # noqa: BLE001 - damage: the restore will say what
        return None
    wanted = _shapes(params)
    for name in sorted(set(stored) | set(wanted)):
        if stored.get(name) != wanted.get(name):
            return (
                f"params{name} has shape {stored.get(name)}, config.json implies "
                f"{wanted.get(name)}"
            )
    return None


class ConfigMismatch(WorkdirError):
    """``config.json`` describes other shapes than the checkpoints hold."""


def _restore_newest(
    manager: ocp.CheckpointManager,
    template: train_state.TrainState,
    with_history: bool,
    log: Callable[[str], None] | None,
    digests: dict[str, Any],
) -> tuple[int, train_state.TrainState, list[dict[str, Any]] | None, list[int]]:
    """Restores the newest checkpoint that loads whole.

    A checkpoint is read only if its files match their recorded digests; one
    without digests (killed between writing the two) counts as unsaved.

    Returns:
      ``(epoch, state, history, damaged)``: ``history`` is ``None`` unless
      ``with_history``; ``damaged`` lists the newer epochs that failed to load.

    Raises:
      ConfigMismatch: a checkpoint's arrays have other shapes than the template.
      WorkdirError: no checkpoint, or none can be read.
    """
    ocp = _orbax()
    steps = sorted(manager.all_steps(), reverse=True)
    if not steps:
        raise WorkdirError(f"no checkpoint in {manager.directory}")
    damaged = []
    first_error = ""
    for step in steps:
        items = {"state": ocp.args.StandardRestore(_state_tree(template))}
        if with_history:
            items["history"] = ocp.args.JsonRestore()
        try:
            step_dir = os.path.join(manager.directory, str(step))
            problem = _digest_problem(step_dir, digests.get(str(step)))
            if problem is not None:
                raise _ChangedFiles(problem)
            mismatch = _shape_problem(step_dir, template.params)
            if mismatch is not None:
                raise ConfigMismatch(
                    f"config.json of {os.path.dirname(manager.directory)} "
                    f"disagrees with its checkpoint of epoch {step}: {mismatch}"
                )
            with cli.stray_errors_held():
                restored = manager.restore(step, args=ocp.args.Composite(**items))
            history = list(restored["history"]) if with_history else None
            if history is not None and history[-1]["epoch"] != step:
                raise ValueError(f"its history ends at epoch {history[-1]['epoch']}")
        except ConfigMismatch:
            raise  # every older checkpoint has the same shapes
        except Exception as err:  # noqa: BLE001 - any damage means "try older"
            damaged.append(step)
            first_error = first_error or _describe(err)
            if log is not None and step != steps[-1]:
                log(
                    f"Checkpoint of epoch {step} is unreadable ({_describe(err)}); "
                    "trying the one before"
                )
            continue
        tree = restored["state"]
        state = template.replace(
            params=tree["params"], opt_state=tree["opt_state"], step=tree["step"]
        )
        return step, state, history, damaged
    raise WorkdirError(
        f"no readable checkpoint in {manager.directory}: epoch(s) "
        f"{', '.join(map(str, damaged))} fail to load (epoch {damaged[0]}: "
        f"{first_error})"
    )


def restore_newest(
    workdir: str,
    template: train_state.TrainState,
    log: Callable[[str], None] | None = None,
) -> tuple[train_state.TrainState, int]:
    """Reads the newest readable checkpoint of ``workdir``, changing nothing there.

    Only arrays and JSON are read (orbax's standard format, no pickle), so no
    code from the files runs.

    Args:
      workdir: a run's directory.
      template: a state of the run's shapes: ``train.create_train_state``, or
        its ``jax.eval_shape`` (cheaper; numpy arrays come back).
      log: told about each unreadable checkpoint that is skipped.

    Returns:
      ``(state, epoch)``.

    Raises:
      WorkdirError: no checkpoint, none can be read, or they disagree with
        ``config.json``.
    """
    check_path(workdir)
    directory = os.path.join(os.path.abspath(workdir), "checkpoints")
    if not os.path.isdir(directory):
        raise WorkdirError(f"{workdir} has no checkpoints: no epoch was saved there")
    _check_file_types(directory)
    digests = _read_digests(workdir, _saved_steps(directory))
    ocp = _orbax()
    manager = ocp.CheckpointManager(
        directory,
        # Not read_only=True, which logs a warning per call: this manager only
        # restores, and without create or root metadata it writes nothing.
        options=ocp.CheckpointManagerOptions(create=False, save_root_metadata=False),
    )
    try:
        epoch, state, _, _ = _restore_newest(manager, template, False, log, digests)
    finally:
        manager.close()
    return state, epoch


def load_run(
    workdir: str, warn: Callable[[str], None] | None = None
) -> tuple[Config, Any, int]:
    """The settings, newest readable parameters and their epoch of a run.

    Nothing in ``workdir`` is written.

    Args:
      workdir: a training run's directory.
      warn: told about each damaged checkpoint passed over.

    Raises:
      WorkdirError: no such workdir, an unreadable ``config.json``, or no
        readable checkpoint.
    """
    from jaxadd import train  # here: train imports this module

    config = read_run_config(workdir)
    # The template gives orbax the shapes and dtypes to restore into; it is
    # built from the saved settings, never from anything stored as code.
    # Abstract (eval_shape): initializing real parameters op by op would take
    # longer than the whole restore, and they would be overwritten anyway.
    template = jax.eval_shape(lambda: train.create_train_state(config))
    state, epoch = restore_newest(workdir, template, log=warn)
    return config, state.params, epoch


class RunStore:
    """The outputs of one run in ``workdir``: config, metrics and checkpoints.

    Opening one checks, before it writes anything, that the workdir is free (its
    lock) and consistent; ``restore`` then checks the checkpoints against the
    settings and only then writes ``config.json``. Every write later on
    is whole or not at all, and a signal waits for it (``cli.writing``).
    """

    def __init__(self, workdir: str, run_info: dict[str, Any] | None = None):
        """Opens ``workdir`` for the run ``run_info`` describes.

        Args:
          workdir: the run's directory, made if missing.
          run_info: what ``config.json`` records (``run_info["config"]`` the
            settings); ``None`` opens an existing run without checking them.

        Raises:
          WorkdirError: the path is unusable, another process trains there, or
            the files there belong to another run or do not fit together.
        """
        self.workdir = workdir
        self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
        self.metrics_path = os.path.join(workdir, "metrics.jsonl")
        self.config_path = os.path.join(workdir, "config.json")
        self.digests_path = os.path.join(workdir, DIGESTS_FILE)
        self.history: list[dict[str, Any]] = []
        self._run_info = run_info
        self._lock_fd: int | None = None
        self._manager = None
        check_path(workdir)
        try:
            os.makedirs(workdir, exist_ok=True)
        except OSError as err:
            raise WorkdirError(f"cannot create workdir {workdir}: {_why(err)}") from err
        if is_primary():
            self._lock()
        try:
            self._digests = self._check_files(run_info)
            ocp = _orbax()
            self._manager = ocp.CheckpointManager(
                self.directory,
                options=ocp.CheckpointManagerOptions(
                    max_to_keep=KEEP_CHECKPOINTS,
                    enable_async_checkpointing=False,
                    create=True,
                    # A kill mid-save leaves "<epoch>.orbax-checkpoint-tmp";
                    # clearing it spares a warning when that epoch is saved again.
                    cleanup_tmp_directories=True,
                ),
            )
        except BaseException:
            self.close()
            raise

    def _lock(self) -> None:
        """Takes the workdir's lock, which the kernel drops when the process dies.

        Raises:
          WorkdirError: another process holds it, or the workdir is read-only.
        """
        path = os.path.join(self.workdir, LOCK_FILE)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise WorkdirError(
                f"cannot write in workdir {self.workdir}: {_why(err)}"
            ) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise WorkdirError(
                    f"cannot lock workdir {self.workdir}: {_why(err)}"
                ) from err
            raise WorkdirError(
                f"workdir {self.workdir} is in use by process {holder} (a run "
                "training there); wait for it to end or use another --workdir"
            ) from None
        self._lock_fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as err:
            raise WorkdirError(
                f"cannot write in workdir {self.workdir}: {_why(err)}"
            ) from err

    def _check_files(self, run_info: dict[str, Any] | None) -> dict[str, Any]:
        """Checks that the workdir's files fit together; returns the digests.

        Nothing is written: a refused run leaves the workdir as it found it.
        """
        if os.path.exists(self.directory) and not os.path.isdir(self.directory):
            raise WorkdirError(
                f"{self.directory} is not a directory: it cannot hold checkpoints"
            )
        steps = _saved_steps(self.directory)
        _check_file_types(self.directory)
        digests = _read_digests(self.workdir, steps)
        recorded = count_lines(self.metrics_path)
        if recorded and not steps:
            raise WorkdirError(
                f"{self.metrics_path} records {recorded} epoch(s) but "
                f"{self.directory} holds no checkpoint: resuming would erase "
                "them; use another --workdir"
            )
        if not os.path.exists(self.config_path):
            if steps:
                raise WorkdirError(
                    f"{self.workdir} has checkpoints but no config.json: the "
                    "settings that trained them are unknown; use another --workdir"
                )
        elif run_info is not None:
            old = read_config(self.workdir)["config"]
            # Settings added since that run was made take their defaults, which
            # reproduce what it computed, so older runs still resume.
            old = Config.from_dict(old).to_dict()
            differences = config_differences(old, run_info["config"])
            if differences:
                raise WorkdirError(
                    f"{self.workdir} holds a run with other settings ("
                    + "; ".join(differences)
                    + "): use another --workdir"
                )
        return digests

    def _write(self, what: str, write: Callable[[], None]) -> None:
        """Runs ``write`` as one uninterruptible step; I/O errors as one line."""
        try:
            with cli.writing():
                write()
        except OSError as err:
            raise WorkdirError(f"cannot write {what}: {_why(err)}") from err

    def restore(
        self,
        template: train_state.TrainState,
        log: Callable[[str], None] | None = None,
    ) -> tuple[train_state.TrainState, list[dict[str, Any]]] | None:
        """The newest readable checkpoint as ``(state, history)``, or ``None``.

        Then (re)writes ``config.json`` and ``metrics.jsonl`` to match it. A
        checkpoint that fails to load is skipped for the one before it (told to
        ``log``) and deleted, so that its epoch is trained and saved again.

        Raises:
          WorkdirError: checkpoints exist but none can be read, or they
            disagree with ``config.json``.
        """
        history: list[dict[str, Any]] = []
        damaged: list[int] = []
        state = None
        if self._manager.all_steps():
            _, state, history, damaged = _restore_newest(
                self._manager, template, True, log, self._digests
            )

        def record() -> None:
            # orbax silently skips saving a step at or below its newest one.
            for step in damaged:
                self._manager.delete(step)
                self._digests.pop(str(step), None)
            if is_primary():
                # Without a checkpoint the run starts at epoch 1; _check_files
                # made sure that no metrics line is lost by this. The metrics
                # first: they say nothing new, where config.json may.
                lines = "".join(json.dumps(m) + "\n" for m in history)
                cli.write_atomically(self.metrics_path, lines)
                if self._run_info is not None:
                    text = json.dumps(self._run_info, indent=2) + "\n"
                    cli.write_atomically(self.config_path, text)

        self._write(self.workdir, record)
        self.history = history
        return None if state is None else (state, history)

    def save(
        self, epoch: int, state: train_state.TrainState, metrics: dict[str, Any]
    ) -> None:
        """Checkpoints ``state`` after ``epoch``, then its digests and metrics line.

        Raises:
          WorkdirError: it could not be written (a full or read-only disk); the
            earlier checkpoints and metrics lines are kept, and nothing of this
            epoch is left half-written.
        """
        history = self.history + [metrics]
        tree = jax.device_get(_state_tree(state))
        try:
            with cli.writing(), cli.stray_errors_held():
                self._save(epoch, tree, history, metrics)
        except WorkdirError:
            raise
        except Exception as err:  # noqa: BLE001 - orbax wraps OSErrors variously
            self._discard(epoch)
            kept = f"epoch {self.history[-1]['epoch']}" if self.history else "none"
            raise WorkdirError(
                f"cannot save epoch {epoch} in {self.workdir}: {_io_reason(err)}; "
                f"the checkpoints and metrics before it are kept (newest: {kept})"
            ) from err
        self.history = history

    def _save(
        self,
        epoch: int,
        tree: dict[str, Any],
        history: list[dict[str, Any]],
        metrics: dict[str, Any],
    ) -> None:
        ocp = _orbax()
        saved = self._manager.save(
            epoch,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(tree),
                history=ocp.args.JsonSave(history),
            ),
        )
        self._manager.wait_until_finished()
        if not saved:
            raise WorkdirError(
                f"orbax refused to save epoch {epoch} in {self.directory} "
                f"(it holds epoch {self._manager.latest_step()})"
            )
        if is_primary():
            kept = {str(step) for step in self._manager.all_steps()}
            digests = {k: v for k, v in self._digests.items() if k in kept}
            digests[str(epoch)] = _file_digests(
                os.path.join(self.directory, str(epoch))
            )
            cli.write_atomically(self.digests_path, json.dumps(digests) + "\n")
            self._digests = digests
            _append_line(self.metrics_path, json.dumps(metrics))

    def _discard(self, epoch: int) -> None:
        """Removes what a failed save of ``epoch`` left, freeing its space.

        A checkpoint whose digests were recorded is whole and stays (only its
        metrics line failed; a resumed run rewrites the file from it). Without
        digests a resumed run would pass it over anyway.
        """
        if not is_primary():
            return
        with contextlib.suppress(OSError):
            for name in os.listdir(self.directory):
                if _ORBAX_TMP in name or (
                    name == str(epoch) and name not in self._digests
                ):
                    shutil.rmtree(os.path.join(self.directory, name), True)

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None


def _io_reason(err: BaseException) -> str:
    """Why a write failed: the OS's words (``No space left on device``) if known.

    orbax reports tensorstore's failures as ``ValueError``s whose text ends in
    ``[os_error_code='28']``; Python's own are ``OSError``s in the chain.
    """
    seen = err
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        code = re.search(r"os_error_code='(\d+)'", str(seen))
        if code:
            return os.strerror(int(code.group(1)))
        seen = seen.__cause__ or seen.__context__
    return _describe(err)


def count_lines(path: str) -> int:
    """Lines of a text file; 0 if it is missing."""
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    except FileNotFoundError:
        return 0
    except OSError as err:
        raise WorkdirError(f"cannot read {path}: {_why(err)}") from err
