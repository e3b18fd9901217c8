"""Progress inside an epoch: reports from the compiled epoch, and no effect on it."""

import dataclasses
import io

import jax
import jax.numpy as jnp
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
    # 540 training problems in batches of 32: 16 steps. Each epoch reports
    # its first step, and then, fast as it is, its last alone: the next report
    # would be half a second on.
    steps = CONFIG.steps_per_epoch
    assert steps == 16
    lines = shown.getvalue().splitlines()
    assert [line.split(", loss")[0] for line in lines] == [
        "  epoch 1: step 1/16",
        "  epoch 1: step 16/16",
        "  epoch 2: step 1/16",
        "  epoch 2: step 16/16",
    ]
    assert lines[-1].endswith(" 0 s left")
    assert steps_shown.last_step == steps


def test_the_epoch_reports_at_the_steps_the_host_asks_for():
    asked = []

    def on_step(step, loss):
        asked.append((int(step), float(loss)))
        return int(step) + 3

    def body(total, x):
        return total + x, total + x  # the "loss" is the running sum

    order = jnp.arange(1.0, 12.0)  # 11 steps
    total, losses = jax.jit(lambda o: train.scan_steps(body, 0.0, o, on_step))(order)
    assert total == 66.0
    np.testing.assert_array_equal(losses, np.cumsum(np.arange(1.0, 12.0)))
    # After step 1, then where each answer said, and the last step in any case.
    assert asked == [(1, 1.0), (4, 10.0), (7, 28.0), (10, 55.0), (11, 66.0)]


def test_the_next_report_is_half_a_second_on_at_the_speed_so_far():
    shown = progress.EpochProgress("none")
    shown.start(1, 3515, 128)
    shown._start -= 10.0  # as if the epoch had begun 10 s ago
    assert shown.update(100, 0.5) == 100 + round(0.5 * 100 / 10.0)
    shown._start -= 90.0  # a slow stretch: 1 step a second so far
    assert shown.update(101, 0.5) == 102  # never the same step again
    shown.finish()


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


def test_a_last_line_clears_the_bar_first():
    # Ctrl-C or a failure mid-epoch: the bar must not stay drawn under the
    # program's last line (cli's signal handler and fail() clear it first).
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    steps_shown = progress.EpochProgress("bar", Terminal())
    steps_shown.start(1, 100, 32)
    steps_shown.update(1, 0.5)
    live = steps_shown._bar._progress.live
    assert live.is_started and cli._LIVE_DISPLAYS
    cli._clear_live_displays()
    assert not live.is_started and not cli._LIVE_DISPLAYS
    steps_shown.finish()  # the epoch's own end after that is harmless
    steps_shown.start(2, 100, 32)
    steps_shown.finish()  # a bar that ends by itself leaves nothing to clear
    assert not cli._LIVE_DISPLAYS


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
