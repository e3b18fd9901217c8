"""What a run keeps in its workdir, and how it picks up after a crash.

Files under ``workdir``::

    config.json       every setting, parameter count, versions, devices
    metrics.jsonl     one JSON object per finished epoch, each epoch once
    checkpoints/<epoch>/  orbax checkpoint: params, optimizer state, step, and
                      the metrics history up to that epoch
    checkpoint_digests.json  SHA-256 of every file of each kept checkpoint

After each epoch the checkpoint is written first (orbax writes to a temporary
directory and renames it, so a kill mid-write leaves the previous checkpoint
whole), its digests second and the metrics line third. A restart restores the
newest readable checkpoint and rewrites ``metrics.jsonl`` from the history
stored inside it, so the file never misses an epoch that a checkpoint covers and
never repeats one. A checkpoint whose files no longer match their digests is
passed over (for the one before it) without being read: orbax, once it has
started reading a damaged checkpoint, leaves reads in flight that print
tracebacks long after it failed.
The order of the data needs no saving: epoch ``k`` is shuffled with a key made
from the seed and ``k`` alone (see ``train.epoch_key``). Checkpoints hold arrays
and JSON only (no pickle), so loading one runs no code from the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
from flax.training import train_state

from jaxadd.config import RESUMABLE_FIELDS, Config

if TYPE_CHECKING:
    import orbax.checkpoint as ocp

KEEP_CHECKPOINTS = 3
DIGESTS_FILE = "checkpoint_digests.json"


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


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
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


def _read_digests(workdir: str) -> dict[str, dict[str, str]]:
    """The recorded digests by epoch (as a string); ``{}`` if none are usable."""
    try:
        with open(os.path.join(workdir, DIGESTS_FILE)) as f:
            digests = json.load(f)
    except (OSError, ValueError):
        # Without digests every checkpoint is still tried, by orbax alone.
        return {}
    return digests if isinstance(digests, dict) else {}


def _digest_problem(step_dir: str, expected: Any) -> str | None:
    """What differs from the recorded digests, or ``None`` if nothing does."""
    if not isinstance(expected, dict):
        return None
    for name, digest in sorted(expected.items()):
        try:
            actual = _sha256(os.path.join(step_dir, name))
        except FileNotFoundError:
            return f"{name} is missing"
        except OSError as err:
            return f"{name} is unreadable: {err.strerror}"
        if actual != digest:
            return f"{name} has changed since it was written"
    return None


def _restore_newest(
    manager: ocp.CheckpointManager,
    template: train_state.TrainState,
    with_history: bool,
    log: Callable[[str], None] | None,
    digests: dict[str, Any],
) -> tuple[int, train_state.TrainState, list[dict[str, Any]] | None, list[int]]:
    """Restores the newest checkpoint that loads whole.

    A checkpoint with recorded digests is read only if its files match them. One
    without (killed between writing it and its digests) is left to orbax.

    Returns:
      ``(epoch, state, history, damaged)``: ``history`` is ``None`` unless
      ``with_history``; ``damaged`` lists the newer epochs that failed to load.

    Raises:
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
            problem = _digest_problem(
                os.path.join(manager.directory, str(step)), digests.get(str(step))
            )
            if problem is not None:
                raise _ChangedFiles(problem)
            restored = manager.restore(step, args=ocp.args.Composite(**items))
            history = list(restored["history"]) if with_history else None
            if history is not None and history[-1]["epoch"] != step:
                raise ValueError(f"its history ends at epoch {history[-1]['epoch']}")
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
      WorkdirError: no checkpoint, or none can be read.
    """
    directory = os.path.join(os.path.abspath(workdir), "checkpoints")
    if not os.path.isdir(directory):
        raise WorkdirError(f"{workdir} has no checkpoints: no epoch was saved there")
    ocp = _orbax()
    manager = ocp.CheckpointManager(
        directory,
        # Not read_only=True, which logs a warning per call: this manager only
        # restores, and without create or root metadata it writes nothing.
        options=ocp.CheckpointManagerOptions(create=False, save_root_metadata=False),
    )
    try:
        epoch, state, _, _ = _restore_newest(
            manager, template, False, log, _read_digests(workdir)
        )
    finally:
        manager.close()
    return state, epoch


class RunStore:
    """The outputs of one run in ``workdir``: config, metrics and checkpoints."""

    def __init__(self, workdir: str):
        self.workdir = workdir
        self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
        self.metrics_path = os.path.join(workdir, "metrics.jsonl")
        self.config_path = os.path.join(workdir, "config.json")
        try:
            os.makedirs(workdir, exist_ok=True)
        except OSError as err:
            raise WorkdirError(
                f"cannot create workdir {workdir}: {err.strerror}"
            ) from err
        self.history: list[dict[str, Any]] = []
        self.digests_path = os.path.join(workdir, DIGESTS_FILE)
        self._digests = _read_digests(workdir)
        ocp = _orbax()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=KEEP_CHECKPOINTS,
                enable_async_checkpointing=False,
                create=True,
                # A kill mid-save leaves "<epoch>.orbax-checkpoint-tmp"; clearing
                # it now spares a warning when that epoch is saved again.
                cleanup_tmp_directories=True,
            ),
        )

    def check_or_write_config(self, run_info: dict[str, Any]) -> None:
        """Writes ``config.json``, refusing if the workdir holds another run."""
        if os.path.exists(self.config_path):
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
        if is_primary():
            _write_atomically(self.config_path, json.dumps(run_info, indent=2) + "\n")

    def restore(
        self,
        template: train_state.TrainState,
        log: Callable[[str], None] | None = None,
    ) -> tuple[train_state.TrainState, list[dict[str, Any]]] | None:
        """The newest readable checkpoint as ``(state, history)``, or ``None``.

        A checkpoint that fails to load is skipped for the one before it (told to
        ``log``) and deleted, so that its epoch is trained and saved again.

        Raises:
          WorkdirError: checkpoints exist but none can be read.
        """
        if not self._manager.all_steps():
            # No checkpoint: the run starts at epoch 1, so earlier lines must go.
            if is_primary():
                _write_atomically(self.metrics_path, "")
            return None
        try:
            _, state, history, damaged = _restore_newest(
                self._manager, template, True, log, self._digests
            )
        except WorkdirError:
            self.close()
            raise
        # orbax silently skips saving a step at or below its newest one.
        for step in damaged:
            self._manager.delete(step)
            self._digests.pop(str(step), None)
        self.history = history
        if is_primary():
            _write_atomically(
                self.metrics_path,
                "".join(json.dumps(m) + "\n" for m in self.history),
            )
        return state, self.history

    def save(
        self, epoch: int, state: train_state.TrainState, metrics: dict[str, Any]
    ) -> None:
        """Checkpoints ``state`` after ``epoch``, then its digests and metrics line."""
        history = self.history + [metrics]
        ocp = _orbax()
        saved = self._manager.save(
            epoch,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(jax.device_get(_state_tree(state))),
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
            self._digests = {k: v for k, v in self._digests.items() if k in kept}
            self._digests[str(epoch)] = _file_digests(
                os.path.join(self.directory, str(epoch))
            )
            _write_atomically(self.digests_path, json.dumps(self._digests) + "\n")
            with open(self.metrics_path, "a") as f:
                f.write(json.dumps(metrics) + "\n")
                f.flush()
                os.fsync(f.fileno())
        self.history = history

    def close(self) -> None:
        self._manager.close()
