"""Training and evaluation: pure jitted steps, then the epoch loop.

The whole training split lives on the device as integer ids. One jitted call
runs a whole epoch: it permutes the example indices with a key derived from
``(seed, epoch)``, gathers each batch on the device and ``lax.scan``s over the
optimizer steps, so Python dispatches once per epoch instead of once per step.
Because the order of epoch ``k`` depends only on the seed and ``k``, a run
resumed from a checkpoint after epoch ``k`` sees exactly the batches an
uninterrupted run sees.

With ``curriculum_epochs`` the first epochs instead follow the "combined" length
curriculum of Zaremba & Sutskever: half of each batch is drawn from the problems
with short operands, a length limit that rises each epoch, and half from all.

Batches are sharded along the ``data`` axis of a one-axis device mesh;
parameters, optimizer state and the stored data are replicated. On one device
this is a plain single-device program.

Several processes (multi-host; see the ``--coordinator_address`` flags of
``main.py``) run this same code in step over one mesh of all their devices.
Each process builds the same problems from the seed and copies them, whole, to
each of its own devices (ids only: about 2 MB for the default 50,000 problems;
cheaper than sharding them and sending rows between hosts at every step);
the compiled program then has each device gather and train on only its own
rows of every batch, and XLA averages the gradients over all devices. Only
process 0 logs and writes ``config.json`` and ``metrics.jsonl``; every process
takes part in saving and restoring checkpoints, as orbax requires.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state
from jax.experimental import io_callback
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxadd import (
    checkpoint,
    data,
    evaluate,
    inference,
    memory,
    models,
    progress,
    summaries,
)
from jaxadd.config import Config


class TrainingError(RuntimeError):
    """A run that cannot go on (non-finite loss, a workdir it must not touch)."""


def make_model(config: Config, unroll: bool = True) -> models.Seq2SeqLSTM:
    return models.Seq2SeqLSTM(
        hidden_size=config.hidden_size,
        answer_len=data.answer_len(config.digits),
        num_layers=config.num_layers,
        unroll=unroll,
        forget_bias=config.forget_bias,
        manual_backward=config.lstm_backward == "manual",
    )


def make_optimizer(config: Config) -> optax.GradientTransformation:
    """Adam with the configured schedule, as a function of the step count.

    For example ``learning_rate=3e-3, warmup_steps=1000`` gives 0 at step 0,
    1.5e-3 at step 500 and 3e-3 at step 1000; the cosine then decays to 0 at
    the last step of the last epoch.
    """
    peak = config.learning_rate
    total_steps = config.epochs * config.steps_per_epoch
    warmup = config.warmup_steps
    if config.lr_schedule == "cosine" and warmup:
        learning_rate = optax.warmup_cosine_decay_schedule(
            0.0, peak, warmup, total_steps
        )
    elif config.lr_schedule == "cosine":
        learning_rate = optax.cosine_decay_schedule(peak, total_steps)
    elif warmup:
        learning_rate = optax.join_schedules(
            [optax.linear_schedule(0.0, peak, warmup), optax.constant_schedule(peak)],
            [warmup],
        )
    else:
        learning_rate = peak
    return optax.adam(learning_rate)


def make_init(config: Config, tx: optax.GradientTransformation | None):
    """A jitted ``seed -> (params, opt_state)``; one compilation serves every seed.

    ``opt_state`` is ``tx``'s initial state, or ``None`` without ``tx``.
    """
    # One compiled program with rolled time loops: op by op, or unrolled, the
    # initialization alone takes seconds of a run that should take few. The key
    # and the dummy input are made inside it or in numpy: each eager jax op
    # would be one more (small) compilation at start-up.
    model = make_model(config, unroll=False)
    query_len = data.query_len(config.digits, config.leading_pads)
    dummy = np.zeros((1, query_len, data.VOCAB_SIZE), np.float32)

    @jax.jit
    def init(seed):
        params = model.init(jax.random.key(seed), dummy)["params"]
        return params, (None if tx is None else tx.init(params))

    return init


def _init(config: Config, tx: optax.GradientTransformation | None):
    return make_init(config, tx)(np.int32(config.seed))


def init_params(config: Config) -> Any:
    """Initial parameters, a function of ``config.seed`` alone."""
    return _init(config, None)[0]


def make_splits(config: Config) -> tuple[data.Split, data.Split]:
    """The run's (training, held-out) problems; the same on every call and host."""
    return data.make_splits(
        num_problems=config.training_size,
        digits=config.digits,
        reverse=config.reverse,
        val_fraction=config.val_fraction,
        seed=config.seed,
        reverse_answer=config.reverse_answer,
        sampling=config.sampling,
        carry_fraction=config.carry_fraction,
        keras_fraction=config.keras_fraction,
        leading_pads=config.leading_pads,
        repeat_fraction=config.repeat_fraction,
        leading_zeros=config.leading_zeros,
        sparse_fraction=config.sparse_fraction,
        full_run_fraction=config.full_run_fraction,
    )


def create_train_state(config: Config) -> train_state.TrainState:
    """Step 0: initial parameters and a fresh Adam state."""
    return initial_states(config, [config.seed])[0]


def initial_states(config: Config, seeds: list[int]) -> list[train_state.TrainState]:
    """``create_train_state`` for each of ``seeds``, from one compilation.

    They share one ``apply_fn`` and one optimizer, so they stack into one
    pytree (``jaxadd.seeds``).
    """
    tx = make_optimizer(config)
    init = make_init(config, tx)
    apply_fn = make_model(config).apply
    states = []
    for seed in seeds:
        params, opt_state = init(np.int32(seed))
        states.append(
            train_state.TrainState(
                step=jnp.asarray(0, jnp.int32),
                apply_fn=apply_fn,
                params=params,
                tx=tx,
                opt_state=opt_state,
            )
        )
    return states


def cross_entropy(logits: jax.Array, answers: jax.Array) -> jax.Array:
    """Mean over batch and answer positions, padding positions included."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, answers).mean()


def train_step(
    state: train_state.TrainState, queries: jax.Array, answers: jax.Array
) -> tuple[train_state.TrainState, jax.Array]:
    """One Adam step on a batch of query and answer ids; returns the loss."""

    def loss_fn(params):
        logits = state.apply_fn({"params": params}, data.one_hot(queries))
        return cross_entropy(logits, answers)

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads), loss


def epoch_key(seed: int, epoch: int) -> jax.Array:
    """The key that orders epoch ``epoch`` (1-based); independent of history."""
    return jax.random.fold_in(jax.random.key(seed + 1), epoch)


def _train_steps(state, queries, answers, order, batch_sharding, on_step=None):
    """Scans ``train_step`` over the batches of row indices ``order [steps, batch]``.

    ``on_step`` is ``scan_steps``'.
    """

    def body(state, batch_indices):
        q = jax.lax.with_sharding_constraint(queries[batch_indices], batch_sharding)
        a = jax.lax.with_sharding_constraint(answers[batch_indices], batch_sharding)
        return train_step(state, q, a)

    state, losses = scan_steps(body, state, order, on_step)
    return state, losses.mean(0)


def scan_steps(body, state, order, on_step=None):
    """``lax.scan(body, state, order)``, reporting to ``on_step`` as it goes.

    ``order``'s leading axis is the steps; ``body(state, order[i]) -> (state,
    loss)``. Returns the final state and every step's loss. With ``on_step``
    ``None`` no report is compiled at all.

    ``on_step(step, loss) -> next`` runs on the host after step 1, then after
    each step it named, and after the last (``step`` 1-based). It sees the
    loss, and nothing the steps compute depends on it: what it returns only
    says when to call it again, so the host sets the pace (about every half
    second, ``progress.EpochProgress.update``) from the speed it sees, in
    the first epoch as in the others. The callback runs on one device, that
    of process 0 with several hosts, and XLA hands its answer to the rest.
    """
    if on_step is None:
        return jax.lax.scan(body, state, order)
    num_steps = order.shape[0]
    next_shape = jax.ShapeDtypeStruct((), jnp.int32)

    def ask(step, loss):
        return np.int32(on_step(step, loss))

    def reporting_body(carry, step_and_batch):
        state, next_report = carry
        step, batch_indices = step_and_batch
        state, loss = body(state, batch_indices)
        next_report = jax.lax.cond(
            (step == next_report) | (step == num_steps),
            lambda: io_callback(ask, next_shape, step, loss),
            lambda: next_report,
        )
        return (state, next_report), loss

    steps = jnp.arange(1, num_steps + 1, dtype=jnp.int32)
    (state, _), losses = jax.lax.scan(
        reporting_body, (state, jnp.int32(1)), (steps, order)
    )
    return state, losses


def make_train_epoch(mesh: Mesh, batch_size: int, on_step=None):
    """A jitted ``(state, queries, answers, key) -> (state, mean_loss)``.

    ``state`` is donated: its buffers are reused for the new state.
    ``on_step`` is ``scan_steps``'.
    """
    batch_sharding = NamedSharding(mesh, PartitionSpec("data"))

    @functools.partial(jax.jit, donate_argnums=0)
    def train_epoch(state, queries, answers, key):
        num_steps = queries.shape[0] // batch_size
        order = jax.random.permutation(key, queries.shape[0])
        order = order[: num_steps * batch_size].reshape(num_steps, batch_size)
        return _train_steps(state, queries, answers, order, batch_sharding, on_step)

    return train_epoch


def curriculum_level(digits: int, curriculum_epochs: int, epoch: int) -> int | None:
    """The longest operand (in digits) of epoch ``epoch``'s easy half.

    ``max(1, ceil(digits * epoch / (curriculum_epochs + 1)))``: the levels rise
    evenly towards ``digits`` (10 digits over 4 epochs: 2, 4, 6, 8), the first
    epoch after the curriculum being the one that would reach it. ``None`` for
    an epoch past the curriculum, one trained on all problems alike.
    """
    if not 1 <= epoch <= curriculum_epochs:
        return None
    return max(1, -(-digits * epoch // (curriculum_epochs + 1)))  # exact ceil


def curriculum_order(
    key: jax.Array,
    longer_lengths: jax.Array,
    level: int | jax.Array,
    num_steps: int,
    batch_size: int,
) -> jax.Array:
    """Row indices ``[num_steps, batch_size]`` of one "combined" curriculum epoch.

    The first ``batch_size // 2`` rows of every batch are easy problems (longer
    operand at most ``level`` digits) in a random order, cycled through again
    when the epoch has more easy slots than easy problems; the other rows walk
    one permutation of all problems. When no problem is easy at ``level``, every
    problem counts as easy. Jittable: ``level`` may be traced, the shapes are
    static.

    Args:
      key: orders the epoch (``epoch_key``); the result is a function of it.
      longer_lengths: ``[n]`` digits of each problem's longer operand
        (``data.longer_operand_length``).
      level: the largest longer operand of the easy half (``curriculum_level``).
      num_steps: batches in the epoch; ``num_steps * batch_size <= n``.
      batch_size: rows per batch.
    """
    n = longer_lengths.shape[0]
    half = batch_size // 2
    easy_key, rest_key = jax.random.split(key)
    easy = longer_lengths <= level
    num_easy = easy.sum()
    # Without a fallback an empty easy set would index modulo zero.
    easy = jnp.where(num_easy > 0, easy, True)
    num_easy = jnp.where(num_easy > 0, num_easy, n)
    shuffled = jax.random.permutation(easy_key, n)
    easy_first = shuffled[jnp.argsort(~easy[shuffled], stable=True)]
    easy_rows = easy_first[jnp.arange(num_steps * half) % num_easy]
    rest_rows = jax.random.permutation(rest_key, n)[: num_steps * (batch_size - half)]
    return jnp.concatenate(
        [
            easy_rows.reshape(num_steps, half),
            rest_rows.reshape(num_steps, batch_size - half),
        ],
        axis=1,
    )


def make_curriculum_epoch(mesh: Mesh, batch_size: int, on_step=None):
    """``make_train_epoch`` with the batches of ``curriculum_order``.

    A jitted ``(state, queries, answers, longer_lengths, level, key)
    -> (state, mean_loss)``; ``level`` is an int32 scalar, so one compilation
    serves every level. ``state`` is donated: its buffers are reused for the
    new state.
    """
    batch_sharding = NamedSharding(mesh, PartitionSpec("data"))

    @functools.partial(jax.jit, donate_argnums=0)
    def curriculum_epoch(state, queries, answers, longer_lengths, level, key):
        num_steps = queries.shape[0] // batch_size
        order = curriculum_order(key, longer_lengths, level, num_steps, batch_size)
        return _train_steps(state, queries, answers, order, batch_sharding, on_step)

    return curriculum_epoch


def make_eval_fn(model: models.Seq2SeqLSTM):
    """A jitted ``(params, queries, answers, mask) -> sums`` over one chunk.

    Returns summed loss, correct characters and exactly-right answers over the
    rows where ``mask`` is true, so chunks of a padded set add up exactly.
    """

    @jax.jit
    def eval_chunk(params, queries, answers, mask):
        logits = model.apply({"params": params}, data.one_hot(queries))
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, answers)
        right = jnp.argmax(logits, -1) == answers
        mask = mask.astype(jnp.float32)
        return {
            "loss": (losses.mean(-1) * mask).sum(),
            "char_correct": (right.mean(-1) * mask).sum(),
            "exact_correct": (right.all(-1) * mask).sum(),
        }

    return eval_chunk


def evaluate_split(eval_chunk, params, split: data.Split) -> dict[str, float]:
    """Loss, per-character and exact-match accuracy over a whole split."""
    totals = {"loss": 0.0, "char_correct": 0.0, "exact_correct": 0.0}
    for queries, answers, mask in inference.padded_chunks(split.queries, split.answers):
        sums = eval_chunk(params, queries, answers, mask)
        for name, value in sums.items():
            totals[name] += float(value)
    n = len(split)
    return {
        "loss": totals["loss"] / n,
        "char_accuracy": totals["char_correct"] / n,
        "exact_accuracy": totals["exact_correct"] / n,
    }


def describe_devices() -> list[str]:
    return [f"{d.platform}:{d.id} {d.device_kind}" for d in jax.devices()]


def make_mesh() -> Mesh:
    return Mesh(np.array(jax.devices()), ("data",))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """``tree`` copied whole onto every device of ``mesh``.

    Via host memory: each process then fills only its own devices. A restored
    state sits on one local device, and copying it from there onto other hosts'
    devices is unsupported (on CPU, for one).
    """
    return jax.device_put(jax.device_get(tree), NamedSharding(mesh, PartitionSpec()))


class EpochRunner:
    """Runs whole epochs of one run: curriculum epochs or plain ones, as due.

    Made once per run: it places the training split on every device and
    compiles, ahead of time, only the kinds of epoch still to run from
    ``first_epoch``: a resumed run past the curriculum, or one that is all
    curriculum, skips a compilation.

    Attributes:
      compile_sec: seconds the compilations took.
      examples_per_epoch: training examples in every epoch (whole batches).
    """

    def __init__(
        self,
        config: Config,
        mesh: Mesh,
        split: data.Split,
        state: train_state.TrainState,
        first_epoch: int,
        steps_shown: progress.EpochProgress | None = None,
    ):
        """Prepares the epochs ``first_epoch..config.epochs``.

        Args:
          config: the run's settings.
          mesh: the devices, along the ``data`` axis batches are sharded over.
          split: the training problems.
          state: a state of the run's shapes, already on the mesh (see
            ``replicate``); it is only read here.
          first_epoch: the first epoch ``run`` will be asked for (1-based).
          steps_shown: shows the steps of each epoch as they run; ``None``
            compiles the epochs without the reports.
        """
        self._config = config
        self._steps_shown = steps_shown
        on_step = None if steps_shown is None else steps_shown.update
        self.examples_per_epoch = config.steps_per_epoch * config.batch_size
        self._queries = replicate(split.queries, mesh)
        self._answers = replicate(split.answers, mesh)
        needs_curriculum = first_epoch <= config.curriculum_epochs
        self._longer_lengths = (
            replicate(
                data.longer_operand_length(split.a, split.b).astype(np.int32), mesh
            )
            if needs_curriculum
            else None
        )
        key = epoch_key(config.seed, 1)  # for its shape: any epoch's would do
        start = time.perf_counter()
        self._plain_epoch = None
        if config.curriculum_epochs < config.epochs:
            self._plain_epoch = (
                make_train_epoch(mesh, config.batch_size, on_step)
                .lower(state, self._queries, self._answers, key)
                .compile()
            )
        self._curriculum_epoch = None
        if needs_curriculum:
            self._curriculum_epoch = (
                make_curriculum_epoch(mesh, config.batch_size, on_step)
                .lower(
                    state,
                    self._queries,
                    self._answers,
                    self._longer_lengths,
                    np.int32(1),
                    key,
                )
                .compile()
            )
        self.compile_sec = time.perf_counter() - start

    def run(
        self, state: train_state.TrainState, epoch: int
    ) -> tuple[train_state.TrainState, float]:
        """Trains epoch ``epoch`` (1-based); returns the new state and mean loss.

        ``state`` is donated: its buffers are reused for the new state. Returns
        once the epoch has finished on the device.
        """
        config = self._config
        key = epoch_key(config.seed, epoch)
        level = curriculum_level(config.digits, config.curriculum_epochs, epoch)
        if self._steps_shown is not None:
            self._steps_shown.start(epoch, config.steps_per_epoch, config.batch_size)
        if level is None:
            state, loss = self._plain_epoch(state, self._queries, self._answers, key)
        else:
            state, loss = self._curriculum_epoch(
                state,
                self._queries,
                self._answers,
                self._longer_lengths,
                np.int32(level),
                key,
            )
        loss = float(loss)  # waits for the epoch, and so for its last report
        if self._steps_shown is not None:
            self._steps_shown.finish()
        return state, loss


# Full-length problems scored after every epoch, besides the held-out split:
# a few thousand, cheap next to an epoch, drawn with a seed of their own, apart
# from ``jaxadd.evaluate``'s (seed 0), so that stopping on them does not tune
# on the suites a run is finally judged on.
UNIFORM_SET_SIZE = 2000
LONGEST_CHAIN_SET_SIZE = 1000
_EPOCH_SETS_SEED = 1


class EpochScores:
    """The sets every epoch is scored on, and the samples shown after it.

    - ``val``: the held-out split (the Keras-style rule: with ``sampling=keras``
      most operands are short).
    - ``uniform``: ``UNIFORM_SET_SIZE`` problems with operands uniform in
      ``[0, 10**digits)``, as good as all full length.
    - ``longest_chain``: ``LONGEST_CHAIN_SET_SIZE`` problems whose carry runs
      through every column (``999+1`` at 3 digits), which uniform operands
      almost never hold.

    None of them holds a training problem; the last two may share problems with
    the held-out split, which is not trained on either.
    """

    def __init__(
        self,
        config: Config,
        train_split: data.Split,
        val_split: data.Split,
        eval_chunk: Callable | None = None,
    ):
        """Draws the sets; ``eval_chunk`` (``make_eval_fn``'s) may be shared."""
        model = make_model(config)
        self._config = config
        self._val_split = val_split
        exclude = (train_split.a, train_split.b)
        seed = _EPOCH_SETS_SEED
        digits = config.digits
        uniform = evaluate.uniform_bucket(digits, UNIFORM_SET_SIZE, seed, *exclude)
        chain = evaluate.carry_chain_bucket(
            digits, digits, LONGEST_CHAIN_SET_SIZE, seed, *exclude
        )
        encode = functools.partial(
            data.encode_split,
            digits=digits,
            reverse=config.reverse,
            reverse_answer=config.reverse_answer,
            leading_pads=config.leading_pads,
            leading_zeros=config.leading_zeros,
        )
        self.sets = {"val": val_split}
        for name, bucket in (("uniform", uniform), ("longest_chain", chain)):
            if len(bucket):  # tiny digit counts may have none left
                self.sets[name] = encode(bucket.a, bucket.b)
        self._eval_chunk = make_eval_fn(model) if eval_chunk is None else eval_chunk
        self._predict_fn = inference.make_predict_fn(model)

    def scores(self, params: Any) -> dict[str, float]:
        """Held-out loss and per-character accuracy, and exact match on each set.

        ``val_loss``, ``val_char_accuracy``, ``val_exact_accuracy``,
        ``uniform_exact_accuracy`` and ``longest_chain_exact_accuracy`` (``None``
        for a set that is empty: every such problem was trained on).
        """
        scores = {"uniform_exact_accuracy": None, "longest_chain_exact_accuracy": None}
        for name, split in self.sets.items():
            result = evaluate_split(self._eval_chunk, params, split)
            scores[f"{name}_exact_accuracy"] = result["exact_accuracy"]
            if name == "val":
                scores["val_loss"] = result["loss"]
                scores["val_char_accuracy"] = result["char_accuracy"]
        return scores

    def samples(self, params: Any, epoch: int) -> list[str]:
        """``config.num_samples`` problems answered, as ``Q 45+2  T 47  ☑ 47``.

        Held-out problems, a new choice each epoch, a function of the seed and
        the epoch alone.
        """
        config, split = self._config, self._val_split
        if not config.num_samples:
            return []
        rng = np.random.default_rng([config.seed, 2, epoch])
        indices = rng.choice(len(split), min(config.num_samples, len(split)), False)
        return inference.format_samples(
            self._predict_fn, params, split, config, indices
        )


def train_and_evaluate(
    config: Config,
    workdir: str | None = None,
    log: Callable[[str], None] = print,
    steps_shown: progress.EpochProgress | None = None,
) -> dict[str, Any]:
    """Trains a model as ``config`` says; returns the last epoch's metrics.

    With ``workdir``, writes ``config.json`` and ``metrics.jsonl`` there, saves a
    checkpoint after every epoch, adds the epoch to TensorBoard's event files
    in ``tensorboard/`` (``summaries``) and, when checkpoints already exist,
    resumes from the newest readable one.

    Args:
      config: the run's settings.
      workdir: directory for outputs, or ``None`` to keep nothing.
      log: called with each line meant for the user.
      steps_shown: shows the steps inside each epoch (``progress``); only
        process 0 of a multi-host run shows them.

    Returns:
      The metrics of the last epoch run, plus ``params`` (the final parameters),
      ``epochs_run``, ``history`` (every epoch's metrics), ``num_params``,
      ``compile_sec`` and ``data_sec``. With ``config.num_seeds > 1``, what
      ``jaxadd.seeds.train_and_evaluate`` returns: that for each seed, and
      their summary.

    Raises:
      ValueError: a bad setting.
      TrainingError: the run cannot go on; outputs already written are kept.
    """
    config.validate()
    if config.num_seeds > 1:
        # Imported here: seeds builds on this module.
        from jaxadd import seeds

        return seeds.train_and_evaluate(config, workdir, log, steps_shown)
    mesh = make_mesh()
    check_batch_divides(config, mesh)
    log, steps_shown = for_this_process(log, steps_shown)
    # Counted on shapes alone (no compilation), so that a busy or foreign
    # workdir is refused before any real work.
    num_params = models.count_params(jax.eval_shape(lambda: init_params(config)))
    memory.check_training_fits(config, num_params, jax.devices()[0])
    if workdir is not None:
        checkpoint.check_not_sweep(workdir)
    info = run_info(config, num_params)
    # Opened before the try: a store that failed to open has nothing to close.
    store = None if workdir is None else checkpoint.RunStore(workdir, info)
    try:
        data_start = time.perf_counter()
        train_split, val_split = make_splits(config)
        data_sec = time.perf_counter() - data_start
        state, history = _restore(config, store, log)
        resumed = history[-1] if history else {}  # the epoch resumed after
        first_epoch = resumed.get("epoch", 0) + 1
        state = replicate(state, mesh)
        runner = EpochRunner(config, mesh, train_split, state, first_epoch, steps_shown)
        scoring = EpochScores(config, train_split, val_split)
        log(_first_line(train_split, val_split, num_params, mesh, data_sec, runner))

        epochs = range(first_epoch, config.epochs + 1)
        if resumed and reached_target(config, resumed):
            log(f"Already reached target_accuracy at epoch {resumed['epoch']}")
            epochs = range(0)
        events = None
        if store is not None and len(epochs) and checkpoint.is_primary():
            first_step = resumed.get("step", 0) + 1
            events = summaries.EventLog(workdir, first_step)
        # Elapsed time goes on from where the resumed run's stopped.
        run_start = time.perf_counter() - resumed.get("elapsed_sec", 0.0)
        for epoch in epochs:
            state, metrics = _train_epoch(runner, state, epoch, scoring, run_start)
            log(epoch_line(metrics))
            for line in scoring.samples(state.params, epoch):
                log(line)
            if store is not None:
                store.save(epoch, state, metrics)
            if events is not None:  # after the metrics line: never ahead of it
                events.write_epoch(metrics, step_losses(steps_shown, metrics))
            history.append(metrics)
            if reached_target(config, metrics):
                log(reached_line(config, metrics))
                break
        return result(history, state, num_params, runner.compile_sec, data_sec)
    finally:
        if store is not None:
            store.close()


def step_losses(
    steps_shown: progress.EpochProgress | None,
    metrics: dict[str, Any],
    seed_index: int | None = None,
) -> list[tuple[int, float]]:
    """The epoch's reported losses at their optimizer steps, for TensorBoard.

    ``seed_index``: in a run of several seeds (one loss per seed reported),
    the position of the seed whose losses to take.
    """
    if steps_shown is None:
        return []
    first = metrics["step"] - steps_shown.last_step  # the step before the epoch
    return [
        (first + step, loss if seed_index is None else loss[seed_index])
        for step, loss in steps_shown.reports
    ]


def check_batch_divides(config: Config, mesh: Mesh) -> None:
    """Raises ``ValueError`` if a batch cannot be split over the ``data`` axis."""
    num_devices = mesh.shape["data"]
    if config.batch_size % num_devices:
        where = f"{num_devices} devices"
        if "seed" in mesh.axis_names:  # a jaxadd.seeds mesh
            where = f"the {where} each of the {config.num_seeds} seeds trains on"
        raise ValueError(
            f"batch_size {config.batch_size} does not divide evenly over {where}"
        )


def for_this_process(
    log: Callable[[str], None], steps_shown: progress.EpochProgress | None
) -> tuple[Callable[[str], None], progress.EpochProgress | None]:
    """``log`` and ``steps_shown`` as this process of a multi-host run uses them.

    Every process runs the same loop in step; process 0 speaks (and writes
    the workdir's files) for all of them. The others still compile the same
    program, reports included, but show nothing.
    """
    if jax.process_index() == 0:
        return log, steps_shown
    silent = None if steps_shown is None else progress.EpochProgress("none")
    return _silent, silent


def _silent(line: str) -> None:
    del line


def run_info(config: Config, num_params: int) -> dict[str, Any]:
    """What ``config.json`` records about the run."""
    return {
        "config": config.to_dict(),
        "num_params": num_params,
        "jax_version": jax.__version__,
        "flax_version": flax.__version__,
        "devices": describe_devices(),
        "num_processes": jax.process_count(),
        "num_train": config.num_train,
        "num_val": config.num_val,
    }


def _restore(
    config: Config,
    store: checkpoint.RunStore | None,
    log: Callable[[str], None],
) -> tuple[train_state.TrainState, list[dict[str, Any]]]:
    """The newest checkpoint's state and the metrics up to it, or step 0's and []."""
    state = create_train_state(config)
    # restore also (re)writes config.json and metrics.jsonl, checkpoint or not.
    restored = None if store is None else store.restore(state, log=log)
    if restored is None:
        return state, []
    state, history = restored
    last_epoch = history[-1]["epoch"] if history else 0
    log(f"Resumed from {store.directory} after epoch {last_epoch}")
    return state, history


def _first_line(
    train_split: data.Split,
    val_split: data.Split,
    num_params: int,
    mesh: Mesh,
    data_sec: float,
    runner: EpochRunner,
) -> str:
    processes = jax.process_count()
    return (
        f"{len(train_split)} training / {len(val_split)} held-out problems, "
        f"{num_params:,} parameters, {mesh.devices.size} device(s) "
        f"[{jax.devices()[0].platform}]"
        + (f" in {processes} processes" if processes > 1 else "")
        + f"; data {data_sec:.2f} s, compile {runner.compile_sec:.2f} s"
    )


def _train_epoch(
    runner: EpochRunner,
    state: train_state.TrainState,
    epoch: int,
    scoring: EpochScores,
    run_start: float,
) -> tuple[train_state.TrainState, dict[str, Any]]:
    """Trains one epoch and scores it (``EpochScores``); returns its metrics.

    Raises:
      TrainingError: the training or held-out loss is not finite.
    """
    epoch_start = time.perf_counter()
    state, train_loss = runner.run(state, epoch)
    train_sec = time.perf_counter() - epoch_start
    scores = scoring.scores(state.params)
    problem = nonfinite_loss(epoch, train_loss, scores)
    if problem is not None:
        raise TrainingError(f"{problem}; the last good checkpoint is kept")
    examples_per_sec = runner.examples_per_epoch / train_sec
    metrics = epoch_metrics(
        epoch, int(state.step), train_loss, scores, examples_per_sec, epoch_start
    )
    return state, metrics | {"elapsed_sec": time.perf_counter() - run_start}


def nonfinite_loss(epoch: int, train_loss: float, scores: dict) -> str | None:
    """What is wrong with an epoch whose loss is not finite; ``None`` if all is."""
    if math.isfinite(train_loss) and math.isfinite(scores["val_loss"]):
        return None
    return (
        f"non-finite loss at epoch {epoch} (train {train_loss}, "
        f"held-out {scores['val_loss']})"
    )


def epoch_metrics(
    epoch: int,
    step: int,
    train_loss: float,
    scores: dict[str, Any],
    examples_per_sec: float,
    epoch_start: float,
) -> dict[str, Any]:
    """An epoch's ``metrics.jsonl`` line, but for ``elapsed_sec``.

    ``scores`` are ``EpochScores.scores``'; ``epoch_start`` is the
    ``time.perf_counter()`` at which the epoch began.
    """
    return {
        "epoch": epoch,
        "step": step,
        "train_loss": train_loss,
        "val_loss": scores["val_loss"],
        "val_char_accuracy": scores["val_char_accuracy"],
        "val_exact_accuracy": scores["val_exact_accuracy"],
        "uniform_exact_accuracy": scores["uniform_exact_accuracy"],
        "longest_chain_exact_accuracy": scores["longest_chain_exact_accuracy"],
        "train_examples_per_sec": examples_per_sec,
        "epoch_sec": time.perf_counter() - epoch_start,
    }


def epoch_line(metrics: dict[str, Any]) -> str:
    def exact(name: str) -> str:
        value = metrics.get(name)
        return "-" if value is None else f"{value:.4f}"

    return (
        f"epoch {metrics['epoch']:3d}  loss {metrics['train_loss']:.4f}  "
        f"val_loss {metrics['val_loss']:.4f}  "
        f"val_char {metrics['val_char_accuracy']:.4f}  "
        f"val_exact {metrics['val_exact_accuracy']:.4f}  "
        f"uniform {exact('uniform_exact_accuracy')}  "
        f"chain {exact('longest_chain_exact_accuracy')}  "
        f"{metrics['train_examples_per_sec']:,.0f} ex/s  "
        f"{metrics['epoch_sec']:.2f} s"
    )


# The metrics each --target_on value tests, in the order they are reported.
_TARGET_METRICS = {
    "all": (
        "val_exact_accuracy",
        "uniform_exact_accuracy",
        "longest_chain_exact_accuracy",
    ),
    "held_out": ("val_exact_accuracy",),
}


def _target_values(config: Config, metrics: dict) -> dict[str, float]:
    """The tested metrics of one epoch; a set with nothing left in it is skipped.

    A metric missing from ``metrics`` (an epoch written before it existed)
    counts as 0: such an epoch has not shown that it reached the target.
    """
    values = {}
    for name in _TARGET_METRICS[config.target_on]:
        if name not in metrics:
            values[name] = 0.0
        elif metrics[name] is not None:
            values[name] = metrics[name]
    return values


def reached_target(config: Config, metrics: dict) -> bool:
    """Whether an epoch's metrics meet ``target_accuracy`` as ``target_on`` says."""
    if config.target_accuracy is None:
        return False
    values = _target_values(config, metrics).values()
    return all(value >= config.target_accuracy for value in values)


def reached_line(config: Config, metrics: dict[str, Any]) -> str:
    values = _target_values(config, metrics)
    reached = ", ".join(f"{name} {value:.4f}" for name, value in values.items())
    return f"Reached {reached} >= {config.target_accuracy} at epoch {metrics['epoch']}"


def result(
    history: list[dict[str, Any]],
    state: train_state.TrainState,
    num_params: int,
    compile_sec: float,
    data_sec: float,
) -> dict[str, Any]:
    """``train_and_evaluate``'s answer: the last epoch's metrics and the rest."""
    return {
        **(history[-1] if history else {}),
        "params": jax.device_get(state.params),
        "epochs_run": len(history),
        "history": list(history),
        "num_params": num_params,
        "compile_sec": compile_sec,
        "data_sec": data_sec,
    }
