"""Progress inside an epoch, reported from the compiled epoch itself.

An epoch is one compiled ``lax.scan`` over its steps; every few steps it hands
the host the step number and that step's loss through ``io_callback``
(``train.scan_steps``; nothing that the step computes depends on them, so the
metrics are those of a run without them). The host answers with the step of
the next report: after step 1, then about every half second at the speed
measured so far in this epoch (``EpochProgress.update``). So a 3-digit epoch
of a few seconds reports a handful of times and a 10-digit one of minutes
every half second, from its first epoch on.
``EpochProgress`` turns the reports into

- ``bar``: a live rich bar (steps done, examples/s, running loss, time left),
  redrawn twice a second and removed when the epoch ends, before its line;
- ``lines``: a plain line at most every 30 s, and none in an epoch shorter
  than that (logs, CI, pipes):
  ``  epoch 3: step 1200/3515, loss 0.0412, 2,610 ex/s, 114 s left``;
- ``none``: nothing.

``auto`` is ``bar`` on a terminal, else ``lines``.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import IO

import numpy as np

from jaxadd import cli

MODES = ("auto", "bar", "lines", "none")
LINE_INTERVAL_SEC = 30.0

# A report about this often: twice a second is all a bar shows, and each report
# costs a host round trip (experiments/results/progress_cost.md).
REPORT_INTERVAL_SEC = 0.5


class EpochProgress:
    """Shows the steps of the epoch in progress; ``update`` is the callback.

    ``reports`` holds the epoch's ``(step in the epoch, loss)`` pairs, for
    TensorBoard (``loss`` a tuple, one per seed, in a run of several seeds).
    ``update`` runs on a thread of XLA's, the rest on the training thread; a
    lock keeps the two apart. An output that fails (a closed pipe) cannot be
    raised from XLA's thread: ``finish`` raises it, on the training thread.
    """

    def __init__(
        self,
        mode: str = "auto",
        stream: IO[str] | None = None,
        line_interval: float = LINE_INTERVAL_SEC,
    ):
        if mode not in MODES:
            raise ValueError(
                f"progress must be one of {', '.join(MODES)}, got {mode!r}"
            )
        self._stream = sys.stdout if stream is None else stream
        if mode == "auto":
            isatty = getattr(self._stream, "isatty", lambda: False)
            mode = "bar" if isatty() else "lines"
        self.mode = mode
        self._line_interval = line_interval
        self._lock = threading.Lock()
        self._bar = None
        self._epoch = self._total = self._batch_size = 0
        self._start = self._last_line = 0.0
        self._loss_sum = 0.0
        self._error: cli.OutputError | None = None
        self.reports: list[tuple[int, float]] = []

    def start(self, epoch: int, total_steps: int, batch_size: int) -> None:
        """An epoch of ``total_steps`` steps of ``batch_size`` examples begins."""
        with self._lock:
            self._epoch, self._total, self._batch_size = epoch, total_steps, batch_size
            self._start = self._last_line = time.perf_counter()
            self._loss_sum = 0.0
            self.reports = []
            if self.mode == "bar":
                self._bar = _RichBar(self._stream, epoch, total_steps)

    def update(self, step, loss) -> int:
        """Step ``step`` (1-based) of the epoch has run, with loss ``loss``.

        ``loss`` may be one per seed (``jaxadd.seeds``), NaN for a seed not
        training: the report keeps them all, the bar and lines show their mean.

        Returns:
          The step after which to report next: ``REPORT_INTERVAL_SEC`` on at
          this epoch's speed so far (at least the next step; the compiled
          epoch reports its last step in any case).
        """
        with self._lock:
            step, shown = int(step), _mean_loss(loss)
            self.reports.append((step, shown if np.ndim(loss) == 0 else tuple(loss)))
            self._loss_sum += shown
            now = time.perf_counter()
            elapsed = max(now - self._start, 1e-9)
            rate = step * self._batch_size / elapsed
            left = (self._total - step) * elapsed / step
            running = self._loss_sum / len(self.reports)
            if self._bar is not None:
                self._bar.update(step, running, rate)
            elif self.mode == "lines" and now - self._last_line >= self._line_interval:
                self._last_line = now
                self._write(
                    f"  epoch {self._epoch}: step {step}/{self._total}, "
                    f"loss {running:.4f}, {rate:,.0f} ex/s, {left:.0f} s left"
                )
            return step + max(1, round(REPORT_INTERVAL_SEC * step / elapsed))

    @property
    def last_step(self) -> int:
        """The newest step reported in this epoch (1-based), 0 before the first."""
        return self.reports[-1][0] if self.reports else 0

    def finish(self) -> None:
        """The epoch has ended: the bar goes, before the epoch's own line.

        Raises:
          cli.OutputError: a progress line could not be written.
        """
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            error, self._error = self._error, None
        if error is not None:
            raise error

    def _write(self, line: str) -> None:
        if self._error is not None:
            return
        try:
            cli.write_line(line, self._stream)
        except cli.OutputError as err:
            self._error = err


def _mean_loss(loss) -> float:
    values = np.asarray(loss, np.float64).ravel()
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


class _RichBar:
    """One epoch's rich progress bar; transient: gone once closed."""

    def __init__(self, stream: IO[str], epoch: int, total_steps: int):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn(f"epoch {epoch}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:,.0f} ex/s"),
            TextColumn("loss {task.fields[loss]:.4f}"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=True,
            refresh_per_second=2,
        )
        self._task = self._progress.add_task("", total=total_steps, rate=0.0, loss=0.0)
        self._progress.start()
        # Ctrl-C or a failure mid-epoch: the bar goes before the run's last line.
        cli.add_live_display(self.close)

    def update(self, step: int, loss: float, rate: float) -> None:
        self._progress.update(self._task, completed=step, loss=loss, rate=rate)

    def close(self) -> None:
        cli.remove_live_display(self.close)
        self._progress.stop()  # a second stop does nothing
