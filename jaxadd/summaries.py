"""TensorBoard event files of a run, without TensorFlow.

    tensorboard --logdir runs/

Every epoch's metrics (each number of its ``metrics.jsonl`` line but ``epoch``
and ``step``) become scalars in ``WORKDIR/tensorboard/`` at the optimizer step
that ended the epoch, and, where the steps inside an epoch were shown
(``progress``), each reported step's loss becomes ``step_loss`` at its own
step. The events are tensorboardX's protocol buffers in TensorFlow's record
format, so TensorBoard reads them; TensorFlow is never imported.

Each training process writes a file of its own. A resumed run's file begins
with a restart at its first step, which tells TensorBoard to drop the earlier
files' events from that step on: the curves go on without a repeated step,
even when a damaged checkpoint made the run train an epoch again. The events
are written synchronously, each epoch's in one append that is whole or undone
(``checkpoint.append_whole``), inside ``cli.writing()`` so that a signal waits
for it.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any

from jaxadd import checkpoint, cli

DIRECTORY = "tensorboard"
# Not curves: the position of a point, already its step.
_NOT_SCALARS = frozenset({"epoch", "step"})


class EventLog:
    """Appends one run's epochs to a new event file in ``WORKDIR/tensorboard``."""

    def __init__(self, workdir: str, first_step: int):
        """Starts the file; a run resumed at ``first_step > 1`` marks a restart.

        Raises:
          checkpoint.WorkdirError: the directory or the file cannot be written.
        """
        # Protocol buffers only: no TensorFlow, no writer thread.
        from tensorboardX.proto import event_pb2, summary_pb2

        self._event_pb2, self._summary_pb2 = event_pb2, summary_pb2
        directory = os.path.join(workdir, DIRECTORY)
        # TensorBoard reads a run's files in name order: time first, then the
        # host and process, so that two starts in one second never collide.
        name = (
            f"events.out.tfevents.{time.time():.6f}.{socket.gethostname()}"
            f".{os.getpid()}"
        )
        self.path = os.path.join(directory, name)
        now = time.time()
        events = [event_pb2.Event(wall_time=now, file_version="brain.Event:2")]
        if first_step > 1:
            start = event_pb2.SessionLog(status=event_pb2.SessionLog.START)
            events.append(
                event_pb2.Event(wall_time=now, step=first_step, session_log=start)
            )
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as err:
            raise _cannot_write(directory, err) from None
        self._append(events)

    def write_epoch(
        self, metrics: dict[str, Any], step_losses: Sequence[tuple[int, float]] = ()
    ) -> None:
        """The epoch's numbers at step ``metrics["step"]``, and its steps' losses.

        Args:
          metrics: the epoch's ``metrics.jsonl`` line.
          step_losses: ``(optimizer step, loss)`` of the steps reported inside
            the epoch, written as ``step_loss``.

        Raises:
          checkpoint.WorkdirError: the file cannot be written (a full disk);
            it is left as it was.
        """
        events = [
            self._scalars(step, {"step_loss": loss}) for step, loss in step_losses
        ]
        numbers = {
            name: value
            for name, value in metrics.items()
            if name not in _NOT_SCALARS
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
        }
        events.append(self._scalars(metrics["step"], numbers))
        self._append(events)

    def _scalars(self, step: int, values: dict[str, float]):
        summary = self._summary_pb2.Summary(
            value=[
                self._summary_pb2.Summary.Value(tag=name, simple_value=float(value))
                for name, value in values.items()
            ]
        )
        return self._event_pb2.Event(wall_time=time.time(), step=step, summary=summary)

    def _append(self, events: list) -> None:
        data = b"".join(_record(event.SerializeToString()) for event in events)
        try:
            with cli.writing():
                checkpoint.append_whole(self.path, data)
        except OSError as err:
            raise _cannot_write(self.path, err) from None


def _cannot_write(path: str, err: OSError) -> checkpoint.WorkdirError:
    return checkpoint.WorkdirError(
        f"cannot write {path}: {err.strerror or cli.first_line(err)}"
    )


def _record(data: bytes) -> bytes:
    """``data`` framed as a TFRecord: length, its checksum, data, its checksum."""
    from tensorboardX.record_writer import masked_crc32c

    header = struct.pack("<Q", len(data))
    checksums = [struct.pack("<I", masked_crc32c(part)) for part in (header, data)]
    return header + checksums[0] + data + checksums[1]


def read_scalars(directory: str) -> dict[str, dict[int, float]]:
    """The scalars TensorBoard shows for one run's ``tensorboard/`` directory.

    Reads every event file in name order, as TensorBoard does, and applies each
    restart: a ``SessionLog.START`` at step ``s`` drops the values read so far
    at steps ``>= s``. For tests and notebooks; TensorBoard itself needs none
    of it.

    Returns:
      ``{tag: {step: value}}``.

    Raises:
      ValueError: a record whose checksum is wrong.
    """
    from tensorboardX.proto import event_pb2

    scalars: dict[str, dict[int, float]] = {}
    for name in sorted(os.listdir(directory)):
        if not name.startswith("events.out.tfevents."):
            continue
        with open(os.path.join(directory, name), "rb") as f:
            data = f.read()
        for payload in _records(data, name):
            event = event_pb2.Event.FromString(payload)
            if event.HasField("session_log") and (
                event.session_log.status == event_pb2.SessionLog.START
            ):
                for steps in scalars.values():
                    for step in [s for s in steps if s >= event.step]:
                        del steps[step]
            for value in event.summary.value:
                scalars.setdefault(value.tag, {})[event.step] = value.simple_value
    return scalars


def _records(data: bytes, name: str):
    offset = 0
    while offset < len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        payload = data[offset + 12 : offset + 12 + length]
        record = _record(payload)
        if data[offset : offset + len(record)] != record:
            raise ValueError(f"{name}: damaged record at byte {offset}")
        yield payload
        offset += len(record)
