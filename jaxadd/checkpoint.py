"""What a run keeps in its workdir, and how it picks up after a crash.

Files under ``workdir``::

    config.json       every setting, parameter count, versions, devices
    metrics.jsonl     one JSON object per finished epoch, each epoch once
    checkpoints/<epoch>/  orbax checkpoint: params, optimizer state, step, and
                      the metrics history up to that epoch

After each epoch the checkpoint is written first (orbax writes to a temporary
directory and renames it, so a kill mid-write leaves the previous checkpoint
whole) and the metrics line second. A restart restores the newest readable
checkpoint and rewrites ``metrics.jsonl`` from the history stored inside it, so
the file never misses an epoch that a checkpoint covers and never repeats one.
The order of the data needs no saving: epoch ``k`` is shuffled with a key made
from the seed and ``k`` alone (see ``train.epoch_key``). Checkpoints hold arrays
and JSON only (no pickle), so loading one runs no code from the file.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jax
import orbax.checkpoint as ocp
from flax.training import train_state

from jaxadd.config import RESUMABLE_FIELDS, Config

KEEP_CHECKPOINTS = 3


class WorkdirError(RuntimeError):
    """A workdir that cannot be used as asked; the message is one line."""


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
    return [
        f"{name} {old.get(name)!r} -> {new.get(name)!r}"
        for name in sorted(set(old) | set(new))
        if name not in RESUMABLE_FIELDS and old.get(name) != new.get(name)
    ]


def _state_tree(state: train_state.TrainState) -> dict[str, Any]:
    return {"params": state.params, "opt_state": state.opt_state, "step": state.step}


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
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=KEEP_CHECKPOINTS,
                enable_async_checkpointing=False,
                create=True,
            ),
        )

    def check_or_write_config(self, run_info: dict[str, Any]) -> None:
        """Writes ``config.json``, refusing if the workdir holds another run."""
        if os.path.exists(self.config_path):
            old = read_config(self.workdir)["config"]
            differences = config_differences(old, run_info["config"])
            if differences:
                raise WorkdirError(
                    f"{self.workdir} holds a run with other settings ("
                    + "; ".join(differences)
                    + "): use another --workdir"
                )
        _write_atomically(self.config_path, json.dumps(run_info, indent=2) + "\n")

    def restore(
        self, template: train_state.TrainState
    ) -> tuple[train_state.TrainState, list[dict[str, Any]]] | None:
        """The newest readable checkpoint as ``(state, history)``, or ``None``.

        A checkpoint that fails to load is skipped for the one before it.

        Raises:
          WorkdirError: checkpoints exist but none can be read.
        """
        steps = sorted(self._manager.all_steps(), reverse=True)
        errors = []
        for step in steps:
            try:
                restored = self._manager.restore(
                    step,
                    args=ocp.args.Composite(
                        state=ocp.args.StandardRestore(_state_tree(template)),
                        history=ocp.args.JsonRestore(),
                    ),
                )
            except Exception as err:  # noqa: BLE001 - any damage means "try older"
                errors.append(f"epoch {step}: {type(err).__name__}")
                continue
            tree = restored["state"]
            state = template.replace(
                params=tree["params"], opt_state=tree["opt_state"], step=tree["step"]
            )
            self.history = list(restored["history"])
            _write_atomically(
                self.metrics_path,
                "".join(json.dumps(m) + "\n" for m in self.history),
            )
            return state, self.history
        if steps:
            raise WorkdirError(
                f"no readable checkpoint in {self.directory} ({', '.join(errors)})"
            )
        # No checkpoint: the run starts at epoch 1, so earlier lines must go.
        _write_atomically(self.metrics_path, "")
        return None

    def save(
        self, epoch: int, state: train_state.TrainState, metrics: dict[str, Any]
    ) -> None:
        """Checkpoints ``state`` after ``epoch``, then appends its metrics line."""
        history = self.history + [metrics]
        self._manager.save(
            epoch,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(jax.device_get(_state_tree(state))),
                history=ocp.args.JsonSave(history),
            ),
        )
        self._manager.wait_until_finished()
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(metrics) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.history = history

    def close(self) -> None:
        self._manager.close()
