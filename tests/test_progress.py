"""Progress inside an epoch: reports from the compiled epoch, and no effect on it."""

import dataclasses
import io

import jax
import numpy as np
import pytest
from conftest import TINY

from jaxadd import cli, progress, train

CONFIG = dataclasses.replace(TINY, num_samples=0)


def test_reports_change_no_metric_and_reach_the_host(quiet):
    plain = train.train_and_evaluate(CONFIG, log=quiet)
    shown = io.StringIO()
    steps_shown = progress.EpochProgress("lines", shown, line_interval=0.0)
    reported = train.train_and_evaluate(CONFIG, log=quiet, steps_shown=steps_shown)
    for name in ("train_loss", "val_loss", "val_exact_accuracy"):
        assert [m[name] for m in plain["history"]] == [
            m[name] for m in reported["history"]
        ]
    for x, y in zip(
        jax.tree.leaves(plain["params"]), jax.tree.leaves(reported["params"])
    ):
        np.testing.assert_array_equal(x, y)
    # 540 training problems in batches of 32: 16 steps, each one reported in
    # the first epoch; the second, as fast, reports every half second, so
    # here only at its last step.
    steps = CONFIG.steps_per_epoch
    assert steps == 16 and progress.report_every(steps) == 1
    lines = shown.getvalue().splitlines()
    assert len(lines) == steps + 1
    assert lines[0].startswith("  epoch 1: step 1/16, loss ")
    assert lines[-1].startswith("  epoch 2: step 16/16, loss ")
    assert lines[-1].endswith(" 0 s left")
    assert steps_shown.last_step == steps


def test_a_long_epoch_reports_about_a_hundred_times():
    assert progress.report_every(3515) == 35
    assert progress.report_every(50) == 1


def test_later_epochs_report_about_every_half_second():
    shown = progress.EpochProgress("none")
    assert shown.steps_between_reports(3515) == 35  # nothing measured yet
    shown.start(1, 3515, 128)
    shown._start -= 100.0  # as if the epoch had begun 100 s ago
    shown.update(3515, 0.5)
    shown.finish()  # 3515 steps in 100 s
    assert shown.steps_between_reports(3515) == round(0.5 / (100.0 / 3515))
    assert shown.steps_between_reports(10) == 10  # never past the epoch


def test_lines_wait_for_the_interval():
    shown = io.StringIO()
    steps_shown = progress.EpochProgress("lines", shown)  # 30 s between lines
    steps_shown.start(1, 100, 32)
    for step in range(1, 101):
        steps_shown.update(step, 0.5)
    steps_shown.finish()
    assert shown.getvalue() == ""  # a short epoch: no line at all


def test_auto_is_a_bar_on_a_terminal_only():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert progress.EpochProgress("auto", io.StringIO()).mode == "lines"
    assert progress.EpochProgress("auto", Terminal()).mode == "bar"
    with pytest.raises(ValueError, match="progress must be one of auto, bar"):
        progress.EpochProgress("loud")


def test_the_bar_draws_and_goes(quiet):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    steps_shown = progress.EpochProgress("auto", screen)
    result = train.train_and_evaluate(CONFIG, log=quiet, steps_shown=steps_shown)
    assert result["epochs_run"] == CONFIG.epochs and steps_shown.last_step == 16


def test_a_failed_line_is_raised_on_the_training_thread():
    class Closed(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self):
            raise OSError("no descriptor")

    steps_shown = progress.EpochProgress("lines", Closed(), line_interval=0.0)
    steps_shown.start(1, 10, 32)
    steps_shown.update(1, 0.5)  # on XLA's thread: must not raise there
    steps_shown.update(2, 0.5)
    with pytest.raises(cli.OutputError):
        steps_shown.finish()
