"""Several seeds trained as one compiled program: a seed sweep in one run.

``--num_seeds=N --seed=S`` trains the seeds ``S, S+1, ..., S+N-1``. Each keeps
everything a single run with that ``--seed`` has: its own problems, held-out
split, initial parameters and order of batches. Their states are stacked
along a leading seed axis and one jitted epoch ``vmap``s the optimizer step
over it, so the N small models share the compilation, the Python dispatch and
each matmul (``[N, batch, hidden]`` at once keeps both cores of a small CPU,
or a GPU, busier than one model does).

The devices form a ``seed x data`` mesh: with 8 devices and 8 seeds each device
trains one seed; with 8 devices and 2 seeds each seed is data parallel over 4
(the seed axis takes ``gcd(N, devices)`` of them).

A seed that reaches ``target_accuracy`` is frozen (its parameters, optimizer
state and step stop changing) while the others go on; so is a seed whose loss
is no longer finite (it "diverged": its last good checkpoint is kept and the
others are not stopped). The run ends when no seed is left training.

The workdir ``DIR`` holds one ordinary workdir per seed, which
``jaxadd.predict``, ``jaxadd.evaluate`` and a single-seed run open unchanged::

    DIR/seed_0/{config.json, metrics.jsonl, checkpoints/, tensorboard/}
    DIR/seed_1/...
    DIR/seeds.json    # per seed: epochs, the epoch that reached the target,
                      # final exact match; mean, min and max over seeds

A killed run resumes exactly: each seed from its own newest checkpoint. Seeds
that were saved one epoch further than others (a kill between two saves) wait,
frozen, while the others catch up.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax.training import train_state
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxadd import checkpoint, cli, data, memory, models, progress, summaries, train
from jaxadd.config import Config

# The metrics seeds.json and the table report, with the table's headings.
REPORTED = (
    ("val_exact_accuracy", "held-out"),
    ("uniform_exact_accuracy", "uniform"),
    ("longest_chain_exact_accuracy", "chain"),
)


def seed_dir(workdir: str, seed: int) -> str:
    return os.path.join(workdir, f"seed_{seed}")


def seed_configs(config: Config) -> list[Config]:
    """Each seed's settings: those of a single run with that ``--seed``."""
    return [
        dataclasses.replace(config, seed=config.seed + k, num_seeds=1)
        for k in range(config.num_seeds)
    ]


def make_mesh(num_seeds: int) -> Mesh:
    """Every device, as ``gcd(num_seeds, devices)`` seeds by the rest for data."""
    devices = np.array(jax.devices())
    along_seeds = math.gcd(num_seeds, devices.size)
    return Mesh(devices.reshape(along_seeds, -1), ("seed", "data"))


def _frozen_where(active: jax.Array, new: Any, old: Any) -> Any:
    """``new`` for the active seeds, ``old`` for the others, leaf by leaf."""

    def pick(new_leaf, old_leaf):
        shape = active.shape + (1,) * (new_leaf.ndim - 1)
        return jnp.where(active.reshape(shape), new_leaf, old_leaf)

    return jax.tree.map(pick, new, old)


def make_seeds_epoch(mesh: Mesh, batch_size: int, curriculum: bool, on_step=None):
    """A jitted epoch of every active seed at once.

    ``(state, queries, answers, longer_lengths, seeds, epochs, levels, active)
    -> (state, losses)``: every argument has a leading seed axis. Seed ``k``
    runs epoch ``epochs[k]`` of seed ``seeds[k]`` on its own problems, in the
    order a single run of that seed would (``train.epoch_key``; with
    ``curriculum``, ``train.curriculum_order`` at ``levels[k]``); a seed with
    ``active[k]`` false is left as it was and its loss is NaN. ``state`` is
    donated. ``on_step`` (``train.scan_steps``') gets ``(step, losses)``, one
    loss per seed.
    """
    batch_sharding = NamedSharding(mesh, PartitionSpec("seed", "data"))
    gather = jax.vmap(lambda rows, indices: rows[indices])

    @functools.partial(jax.jit, donate_argnums=0)
    def seeds_epoch(
        state, queries, answers, longer_lengths, seeds, epochs, levels, active
    ):
        n = queries.shape[1]
        num_steps = n // batch_size
        keys = jax.vmap(train.epoch_key)(seeds, epochs)
        if curriculum:
            order = jax.vmap(
                lambda key, lengths, level: train.curriculum_order(
                    key, lengths, level, num_steps, batch_size
                )
            )(keys, longer_lengths, levels)
        else:
            order = jax.vmap(lambda key: jax.random.permutation(key, n))(keys)
            order = order[:, : num_steps * batch_size]
            order = order.reshape(-1, num_steps, batch_size)

        def body(state, batch_indices):  # [seeds, batch]
            q = gather(queries, batch_indices)
            a = gather(answers, batch_indices)
            q = jax.lax.with_sharding_constraint(q, batch_sharding)
            a = jax.lax.with_sharding_constraint(a, batch_sharding)
            new_state, losses = jax.vmap(train.train_step)(state, q, a)
            state = _frozen_where(active, new_state, state)
            return state, jnp.where(active, losses, jnp.nan)

        order = jnp.swapaxes(order, 0, 1)  # steps first, for the scan
        state, losses = train.scan_steps(body, state, order, on_step)
        return state, losses.mean(0)

    return seeds_epoch


class _Seed:
    """One seed of the sweep: its settings, outputs and where it stands."""

    def __init__(self, config: Config, workdir: str | None, run_info: dict):
        self.config = config
        self.store = (
            None
            if workdir is None
            else checkpoint.RunStore(seed_dir(workdir, config.seed), run_info)
        )
        self.history: list[dict[str, Any]] = []
        self.status = "training"  # then "reached", "done" or "diverged"
        self.events: summaries.EventLog | None = None
        self.scoring: train.EpochScores | None = None
        self.run_start = 0.0

    @property
    def next_epoch(self) -> int:
        return (self.history[-1]["epoch"] if self.history else 0) + 1


def _to_host(tree: Any) -> Any:
    """``tree``'s values in host memory, whole, on every process."""
    if jax.process_count() > 1:
        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def _seed_slice(tree: Any, k: int) -> Any:
    return jax.tree.map(lambda leaf: leaf[k], tree)


def _stack(trees: list[Any]) -> Any:
    return jax.tree.map(
        lambda *leaves: np.stack([np.asarray(x) for x in leaves]), *trees
    )


class SeedsRunner:
    """The compiled epochs of a sweep and its stacked training data.

    Attributes:
      compile_sec: seconds the compilations took.
      examples_per_epoch: training examples in every epoch of each seed.
    """

    def __init__(self, config, mesh, splits, state, first_epoch, steps_shown=None):
        """Like ``train.EpochRunner``; ``splits`` holds each seed's training split."""
        self._config = config
        self._steps_shown = steps_shown
        on_step = None if steps_shown is None else steps_shown.update
        self.examples_per_epoch = config.steps_per_epoch * config.batch_size
        by_seed = NamedSharding(mesh, PartitionSpec("seed"))

        def place(rows):
            return jax.device_put(np.stack(rows), by_seed)

        self._queries = place([s.queries for s in splits])
        self._answers = place([s.answers for s in splits])
        self._longer_lengths = place(
            [data.longer_operand_length(s.a, s.b).astype(np.int32) for s in splits]
        )
        self._seeds = np.array(
            [config.seed + k for k in range(config.num_seeds)], np.int32
        )
        start = time.perf_counter()
        self._programs = {}
        kinds = []  # curriculum epochs, plain ones, or both: those still to run
        if first_epoch <= config.curriculum_epochs:
            kinds.append(True)
        if max(first_epoch, config.curriculum_epochs + 1) <= config.epochs:
            kinds.append(False)
        for curriculum in kinds:
            args = self._args(1, np.ones(config.num_seeds, bool))
            self._programs[curriculum] = (
                make_seeds_epoch(mesh, config.batch_size, curriculum, on_step)
                .lower(state, *args)
                .compile()
            )
        self.compile_sec = time.perf_counter() - start

    def _args(self, epoch: int, active: np.ndarray) -> tuple:
        config = self._config
        level = train.curriculum_level(config.digits, config.curriculum_epochs, epoch)
        n = config.num_seeds
        return (
            self._queries,
            self._answers,
            self._longer_lengths,
            self._seeds,
            np.full(n, epoch, np.int32),
            np.full(n, level or 1, np.int32),
            active,
        )

    def run(self, state, epoch: int, active: np.ndarray):
        """Epoch ``epoch`` of the seeds where ``active``; returns state and losses.

        ``state`` is donated. Returns once the epoch has finished.
        """
        config = self._config
        level = train.curriculum_level(config.digits, config.curriculum_epochs, epoch)
        if self._steps_shown is not None:
            examples = config.batch_size * int(active.sum())
            self._steps_shown.start(epoch, config.steps_per_epoch, examples)
        state, losses = self._programs[level is not None](
            state, *self._args(epoch, active)
        )
        losses = _to_host(losses)  # waits for the epoch and its last report
        if self._steps_shown is not None:
            self._steps_shown.finish()
        return state, losses


def train_and_evaluate(
    config: Config,
    workdir: str | None = None,
    log: Callable[[str], None] = print,
    steps_shown: progress.EpochProgress | None = None,
) -> dict[str, Any]:
    """``train.train_and_evaluate`` for ``config.num_seeds`` seeds at once.

    Returns:
      ``seeds``: per seed what ``train.train_and_evaluate`` returns for it;
      ``summary``: what ``seeds.json`` holds; ``compile_sec``, ``data_sec``.

    Raises:
      ValueError: a bad setting.
      TrainingError, WorkdirError: as ``train.train_and_evaluate``.
    """
    config.validate()
    mesh = make_mesh(config.num_seeds)
    train.check_batch_divides(config, mesh)
    log, steps_shown = train.for_this_process(log, steps_shown)
    configs = seed_configs(config)
    num_params = models.count_params(jax.eval_shape(lambda: train.init_params(config)))
    n = config.num_seeds
    whole = dataclasses.replace(
        config, training_size=n * config.training_size, batch_size=n * config.batch_size
    )
    memory.check_training_fits(whole, n * num_params, jax.devices()[0])
    if workdir is not None:
        checkpoint.check_sweep_dir(workdir)
    seeds: list[_Seed] = []
    try:
        for c in configs:  # every lock and check before any write
            seeds.append(_Seed(c, workdir, train.run_info(c, num_params)))
        data_start = time.perf_counter()
        splits = [train.make_splits(c) for c in configs]
        data_sec = time.perf_counter() - data_start
        state = _restore(config, seeds, log)
        state = jax.device_put(state, NamedSharding(mesh, PartitionSpec("seed")))
        # The first epoch still to run; past the last when every seed is done.
        first_epoch = min(
            (s.next_epoch for s in seeds if s.status == "training"),
            default=config.epochs + 1,
        )
        runner = SeedsRunner(
            config, mesh, [t for t, _ in splits], state, first_epoch, steps_shown
        )
        eval_chunk = train.make_eval_fn(train.make_model(config))
        for s, (train_split, val_split) in zip(seeds, splits):
            s.scoring = train.EpochScores(s.config, train_split, val_split, eval_chunk)
        log(_first_line(config, splits, num_params, mesh, data_sec, runner))
        _start(seeds, workdir)
        while any(s.status == "training" for s in seeds):
            state = _sweep_epoch(runner, state, seeds, steps_shown, log)
            if workdir is not None and checkpoint.is_primary():
                _write_summary(workdir, config, seeds)
        for line in summary_lines(config, seeds):
            log(line)
        return _result(config, seeds, _to_host(state), num_params, runner, data_sec)
    finally:
        for s in seeds:
            if s.store is not None:
                s.store.close()


def _result(config, seeds, host_state, num_params, runner, data_sec) -> dict:
    """``train_and_evaluate``'s answer."""
    per_seed = [
        train.result(
            s.history,
            _seed_slice(host_state, k),
            num_params,
            runner.compile_sec,
            data_sec,
        )
        | {"status": s.status}
        for k, s in enumerate(seeds)
    ]
    return {
        "seeds": per_seed,
        "summary": summarize(config, seeds),
        "compile_sec": runner.compile_sec,
        "data_sec": data_sec,
    }


def _restore(config: Config, seeds: list[_Seed], log) -> train_state.TrainState:
    """Every seed's newest checkpoint (or step 0), stacked on the seed axis."""
    initial = train.initial_states(config, [s.config.seed for s in seeds])
    states = []
    for s, state in zip(seeds, initial):
        restored = None if s.store is None else s.store.restore(state, log=log)
        if restored is not None:
            state, s.history = restored
            log(f"seed {s.config.seed}: resumed after epoch {s.history[-1]['epoch']}")
        if s.history and train.reached_target(s.config, s.history[-1]):
            s.status = "reached"
        elif s.next_epoch > config.epochs:
            s.status = "done"
        states.append(state)
    return _stack(states)


def _first_line(config, splits, num_params, mesh, data_sec, runner) -> str:
    train_split, val_split = splits[0]
    seeds = f"{config.seed}..{config.seed + config.num_seeds - 1}"
    return (
        f"{config.num_seeds} seeds ({seeds}) in one program, each "
        f"{len(train_split)} training / {len(val_split)} held-out problems, "
        f"{num_params:,} parameters; {mesh.devices.size} device(s) "
        f"[{jax.devices()[0].platform}] as {mesh.shape['seed']} seed x "
        f"{mesh.shape['data']} data; data {data_sec:.2f} s, compile "
        f"{runner.compile_sec:.2f} s"
    )


def _start(seeds: list[_Seed], workdir: str | None) -> None:
    """Starts each training seed's clock and TensorBoard file."""
    now = time.perf_counter()
    for s in seeds:
        resumed = s.history[-1] if s.history else {}
        s.run_start = now - resumed.get("elapsed_sec", 0.0)
        if s.status == "training" and s.store is not None and checkpoint.is_primary():
            first_step = resumed.get("step", 0) + 1
            s.events = summaries.EventLog(s.store.workdir, first_step)


def _sweep_epoch(runner, state, seeds, steps_shown, log):
    """The next epoch of the seeds furthest behind; scores, saves and logs it."""
    epoch = min(s.next_epoch for s in seeds if s.status == "training")
    active = np.array([s.status == "training" and s.next_epoch == epoch for s in seeds])
    epoch_start = time.perf_counter()
    state, losses = runner.run(state, epoch, active)
    examples_per_sec = runner.examples_per_epoch / (time.perf_counter() - epoch_start)
    host = _to_host(state)
    measured = {}  # every seed's metrics before any write: one epoch_sec
    for k in np.flatnonzero(active):
        s, loss, seed_state = seeds[k], float(losses[k]), _seed_slice(host, k)
        scores = s.scoring.scores(seed_state.params)
        problem = train.nonfinite_loss(epoch, loss, scores)
        if problem is not None:
            s.status = "diverged"
            log(
                f"seed {s.config.seed}: {problem}; it is stopped, its last good "
                "checkpoint kept, and the other seeds go on"
            )
            continue
        measured[k] = (
            seed_state,
            train.epoch_metrics(
                epoch, int(seed_state.step), loss, scores, examples_per_sec, epoch_start
            ),
        )
    for k, (seed_state, metrics) in measured.items():
        s = seeds[k]
        metrics["elapsed_sec"] = time.perf_counter() - s.run_start
        log(f"seed {s.config.seed}: {train.epoch_line(metrics)}")
        if s.store is not None:
            s.store.save(epoch, seed_state, metrics)
        if s.events is not None:
            s.events.write_epoch(metrics, train.step_losses(steps_shown, metrics, k))
        s.history.append(metrics)
        if train.reached_target(s.config, metrics):
            s.status = "reached"
            line = train.reached_line(s.config, metrics)
            log(f"seed {s.config.seed}: {line}; frozen")
        elif epoch == s.config.epochs:
            s.status = "done"
    return state


def _reached_epoch(config: Config, history: list[dict]) -> int | None:
    return next((m["epoch"] for m in history if train.reached_target(config, m)), None)


def summarize(config: Config, seeds: list[_Seed]) -> dict[str, Any]:
    """What ``seeds.json`` holds: each seed's outcome, then over seeds.

    ``seeds``: per seed its ``status`` (training, reached, done or diverged),
    ``epochs_run``, ``reached_epoch`` (``None`` if it never reached
    ``target_accuracy``) and the last epoch's exact match on each set;
    ``over_seeds``: per metric its mean, min and max over the seeds with an
    epoch; ``reached``: how many seeds reached the target.
    """
    rows = []
    for s in seeds:
        last = s.history[-1] if s.history else {}
        rows.append(
            {
                "seed": s.config.seed,
                "status": s.status,
                "epochs_run": len(s.history),
                "reached_epoch": _reached_epoch(s.config, s.history),
                **{name: last.get(name) for name, _ in REPORTED},
            }
        )
    over_seeds = {}
    for name, _ in REPORTED:
        values = [row[name] for row in rows if row[name] is not None]
        if values:
            over_seeds[name] = {
                "mean": float(np.mean(values)),
                "min": min(values),
                "max": max(values),
            }
    return {
        "num_seeds": config.num_seeds,
        "first_seed": config.seed,
        "target_accuracy": config.target_accuracy,
        "target_on": config.target_on,
        "seeds": rows,
        "over_seeds": over_seeds,
        "reached": sum(row["reached_epoch"] is not None for row in rows),
    }


def summary_lines(config: Config, seeds: list[_Seed]) -> list[str]:
    """The table printed at the end: a row per seed, then mean, min and max."""
    summary = summarize(config, seeds)

    def cell(value) -> str:
        return f"{value:>9.4f}" if value is not None else f"{'-':>9}"

    heads = "".join(f"{head:>9}" for _, head in REPORTED)
    lines = [f"{'seed':>6} {'status':>9} {'epochs':>6} {'reached':>7}{heads}"]
    for row in summary["seeds"]:
        reached = row["reached_epoch"] or "-"
        lines.append(
            f"{row['seed']:>6} {row['status']:>9} {row['epochs_run']:>6} "
            f"{reached!s:>7}" + "".join(cell(row[name]) for name, _ in REPORTED)
        )
    for stat in ("mean", "min", "max"):
        values = [summary["over_seeds"].get(name, {}).get(stat) for name, _ in REPORTED]
        lines.append(f"{stat:>6} {'':>9} {'':>6} {'':>7}" + "".join(map(cell, values)))
    if config.target_accuracy is not None:
        lines.append(
            f"{summary['reached']} of {config.num_seeds} seeds reached "
            f"{config.target_accuracy} ({config.target_on})"
        )
    return lines


def _write_summary(workdir: str, config: Config, seeds: list[_Seed]) -> None:
    path = os.path.join(workdir, checkpoint.SWEEP_FILE)
    text = json.dumps(summarize(config, seeds), indent=2) + "\n"
    try:
        with cli.writing():
            cli.write_atomically(path, text)
    except OSError as err:
        raise checkpoint.WorkdirError(
            f"cannot write {path}: {err.strerror or err}; every seed's "
            "checkpoints and metrics are kept"
        ) from None
