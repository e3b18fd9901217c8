"""Command line: ``python -m jaxadd.main --digits=4 --reverse --workdir=/tmp/run``.

The flags are made from the fields of ``jaxadd.config.Config``: one each, with
its name, type, default and help. The settings start from a named recipe of
``jaxadd.configs``: ``--config=NAME``'s or, without it, the one measured for
``--digits`` (``--digits=4`` trains with ``d4``'s problems, batch and epochs);
flags given as well override it. The run's first line names the recipe.

A bad value, and every fault (a busy workdir, a full disk, a closed pipe, too
little memory), ends the program with one line on stderr and exit code 1;
Ctrl-C with one line and 130, SIGTERM with 143 (see ``jaxadd.cli``). What was
written before, checkpoints and metrics lines, is kept, and the same
command resumes from it.

Every device of the machine is used; ``--cpu_devices=N`` splits a CPU into N
devices (one per core trains fastest on a 2-core CPU). Several hosts train
together when each runs the same command plus
``--coordinator_address=HOST0:PORT --num_processes=N --process_id=I`` (or
``--distributed`` where JAX detects those itself, as on TPU pod slices) and a
``--workdir`` they all reach.
"""

from __future__ import annotations

import os
import typing

from absl import app, flags, logging

from jaxadd import cli, configs, devices, progress
from jaxadd.config import Config

PROG = "jaxadd"


def _define_config_flags() -> None:
    """One flag per ``Config`` field: its name, type, default and help."""
    types = typing.get_type_hints(Config)
    follow_digits = configs.digit_dependent_fields()
    for field in Config.fields():
        name, default, help_text = field.name, field.default, field.metadata["help"]
        if name in follow_digits:
            help_text += " Unset: from the recipe for --digits (shown: 3 digits)."
        kind = types[name]
        if "choices" in field.metadata:
            flags.DEFINE_enum(name, default, field.metadata["choices"], help_text)
        elif kind is bool:
            flags.DEFINE_boolean(name, default, help_text)
        elif kind is int:
            flags.DEFINE_integer(name, default, help_text)
        elif kind in (float, float | None):
            flags.DEFINE_float(name, default, help_text)
        else:
            raise TypeError(f"no flag type for Config.{name}: {kind}")


_define_config_flags()
flags.DEFINE_enum(
    "config",
    "default",
    configs.NAMES,
    "Named recipe (jaxadd/configs/NAME.py); flags given as well override its "
    "fields. Unset: the recipe measured for --digits (d1, d2, default for 3, "
    "d4, d5, d6, d7; d10 for 8 and more).",
)
flags.DEFINE_string(
    "workdir",
    None,
    "Directory for config.json, metrics.jsonl and checkpoints; resumes if present.",
)
flags.DEFINE_enum(
    "progress",
    "auto",
    progress.MODES,
    "Steps inside each epoch: bar, a live bar; lines, a plain line at most "
    "every 30 s (none in shorter epochs); none; auto, bar on a terminal, else "
    "lines.",
)
flags.DEFINE_string(
    "coordinator_address",
    None,
    "Multi-host: host:port of process 0, the same for every process.",
)
flags.DEFINE_integer(
    "num_processes", None, "Multi-host: how many processes train together."
)
flags.DEFINE_integer(
    "process_id", None, "Multi-host: this process's number, 0..num_processes-1."
)
flags.DEFINE_integer(
    "cpu_devices",
    None,
    "Where the CPU is JAX's backend: split it into this many devices, which "
    "train on their shares of every batch in parallel (one per core is "
    "fastest on the 2-core development machine). Unset: JAX's default, one; "
    "with --num_seeds, one per seed, each training its seed on a thread of its "
    "own (unless JAX_NUM_CPU_DEVICES or XLA_FLAGS sets a count).",
)
flags.DEFINE_float(
    "distributed_timeout",
    120.0,
    "Multi-host: seconds to wait for every process to join before giving up.",
)
flags.DEFINE_boolean(
    "distributed",
    False,
    "Multi-host with the settings jax.distributed.initialize() detects itself "
    "(TPU pod slices, Slurm, Open MPI); implied by the three flags above.",
)

FLAGS = flags.FLAGS


def config_from_flags() -> tuple[Config, str]:
    """The run's settings, and the line that names the recipe they came from.

    The recipe is ``--config``'s or, without it, the one for ``--digits``
    (``configs.for_digits``); every flag given on the command line wins.
    """
    given = {
        f.name: FLAGS[f.name].value for f in Config.fields() if FLAGS[f.name].present
    }
    return configs.resolve(FLAGS.config if FLAGS["config"].present else None, given)


def main(argv: list[str]) -> None:
    # orbax logs every checkpoint step at INFO, and a failed write as ERROR
    # tracebacks from its threads: the user wants the epochs, and one line.
    logging.set_verbosity(logging.FATAL)
    if "stdout" in cli.open_std_streams():
        cli.fail(PROG, "standard output is closed; send it to a file or /dev/null")
    cli.tolerant_stdout()
    if len(argv) > 1:
        cli.fail(PROG, f"unexpected arguments {' '.join(argv[1:])}")
    config, recipe_line = config_from_flags()
    try:
        config.validate()
    except ValueError as err:
        cli.fail(PROG, str(err))
    workdir = FLAGS.workdir
    if workdir is not None and not workdir.strip():
        cli.fail(PROG, "--workdir is empty: name a directory, or leave the flag out")

    multi_host = devices.multi_host_asked(
        FLAGS.coordinator_address,
        FLAGS.num_processes,
        FLAGS.process_id,
        FLAGS.distributed,
    )
    cpu_devices = devices.cpu_devices_for(
        FLAGS.cpu_devices, config.num_seeds, config.batch_size, multi_host
    )
    error = devices.split_cpu(cpu_devices, config.batch_size)
    if error is None:
        error = devices.start_distributed(
            FLAGS.coordinator_address,
            FLAGS.num_processes,
            FLAGS.process_id,
            FLAGS.distributed,
            FLAGS.distributed_timeout,
        )
    if error:
        cli.fail(PROG, error)

    # Imported after validation so that a bad flag answers at once.
    import jax

    from jaxadd import checkpoint, train

    steps_shown = None
    if FLAGS.progress != "none":
        steps_shown = progress.EpochProgress(FLAGS.progress)

    def work() -> None:
        if jax.process_index() == 0:
            _log(recipe_line)
        train.train_and_evaluate(config, workdir, log=_log, steps_shown=steps_shown)

    try:
        cli.run_interruptibly(PROG, work, lambda: _what_is_kept(workdir, config))
    except (
        ValueError,
        train.TrainingError,
        checkpoint.WorkdirError,
        cli.OutputError,
        OSError,
    ) as err:
        cli.fail(PROG, cli.first_line(err))
    except MemoryError as err:
        cli.fail(PROG, f"out of memory: {cli.first_line(err)}")
    except Exception as err:
        # XLA's allocation failures (RESOURCE_EXHAUSTED) are its runtime errors.
        if "RESOURCE_EXHAUSTED" in str(err):
            cli.fail(PROG, f"out of device memory: {cli.first_line(err)}")
        cli.crash(err)  # a bug: its traceback, even once stderr is muted
    # Every output is written and closed. Skipping teardown spares the exit the
    # garbage collector's passes over the ~150,000 objects that JAX, Flax and
    # the compiled programs leave (0.3-0.5 s of a 15 s run on a 2-core CPU).
    cli.finish(0)


def _what_is_kept(workdir: str | None, config: Config) -> str:
    """The end of the line an interrupted run prints."""
    if workdir is None:
        return "nothing was kept (no --workdir)"
    from jaxadd import checkpoint  # imported by now: training has begun

    def epochs(directory: str) -> int:
        try:
            return checkpoint.count_lines(os.path.join(directory, "metrics.jsonl"))
        except checkpoint.WorkdirError:
            return 0

    if config.num_seeds == 1:
        kept = f"{epochs(workdir)} finished epoch(s) kept in {workdir}"
    else:
        from jaxadd import seeds

        first = config.seed
        counts = [
            epochs(seeds.seed_dir(workdir, seed))
            for seed in range(first, first + config.num_seeds)
        ]
        kept = (
            f"{min(counts)} to {max(counts)} finished epoch(s) per seed kept in "
            f"{workdir}/seed_*"
        )
    return f"{kept}; the same command resumes from there"


def _log(line: str) -> None:
    cli.write_line(cli.displayable(line))


if __name__ == "__main__":
    # From the start: Ctrl-C while JAX imports is one line too.
    cli.exit_on_signals(PROG, lambda: "nothing was written")
    app.run(main, flags_parser=cli.guard_help_output(PROG, cli.flags_parser(PROG)))
