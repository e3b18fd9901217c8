"""The "combined" length curriculum: levels, batch order, and runs with it."""

import dataclasses

import jax
import numpy as np
import pytest

from jaxadd import data, train
from jaxadd.config import Config

CURRICULUM = Config(
    digits=2,
    training_size=2_000,
    epochs=2,
    curriculum_epochs=1,
    batch_size=64,
    hidden_size=16,
    learning_rate=1e-3,
    lr_schedule="constant",  # epochs may then grow on resume
    num_samples=0,
)


def assert_same_params(x, y) -> None:
    for a, b in zip(jax.tree.leaves(x), jax.tree.leaves(y), strict=True):
        np.testing.assert_array_equal(a, b)


def params_differ(x, y) -> bool:
    return any(
        not np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(x), jax.tree.leaves(y), strict=True)
    )


@pytest.fixture(scope="module")
def curriculum_run():
    """An uninterrupted run of CURRICULUM: one curriculum epoch, one normal."""
    return train.train_and_evaluate(CURRICULUM, log=lambda line: None)


def test_curriculum_level_rises_then_ends():
    assert [train.curriculum_level(10, 4, e) for e in range(1, 6)] == [
        2,
        4,
        6,
        8,
        None,
    ]
    assert [train.curriculum_level(3, 2, e) for e in range(1, 4)] == [1, 2, None]
    # Never below one digit, however many curriculum epochs.
    assert train.curriculum_level(2, 9, 1) == 1
    assert train.curriculum_level(5, 0, 1) is None


def test_longer_operand_length():
    a, b = np.array([0, 7, 12, 999]), np.array([5, 123, 4, 1000])
    np.testing.assert_array_equal(data.longer_operand_length(a, b), [1, 3, 2, 4])


def order_for(key_seed, lengths, level, num_steps=5, batch_size=16) -> np.ndarray:
    key = jax.random.key(key_seed)
    return np.asarray(
        train.curriculum_order(key, np.asarray(lengths), level, num_steps, batch_size)
    )


def test_curriculum_order_puts_easy_problems_first_in_every_batch():
    lengths = np.random.default_rng(0).integers(1, 5, size=100)
    order = order_for(0, lengths, level=2)
    assert order.shape == (5, 16)
    assert order.min() >= 0 and order.max() < 100
    assert (lengths[order[:, :8]] <= 2).all()
    # The other half walks one permutation: no problem twice.
    assert len(np.unique(order[:, 8:])) == order[:, 8:].size
    assert (lengths[order[:, 8:]] > 2).any()


def test_curriculum_order_depends_only_on_the_key():
    lengths = np.random.default_rng(0).integers(1, 5, size=100)
    np.testing.assert_array_equal(
        order_for(0, lengths, level=2), order_for(0, lengths, level=2)
    )
    assert not np.array_equal(
        order_for(0, lengths, level=2), order_for(1, lengths, level=2)
    )


def test_curriculum_order_cycles_through_few_easy_problems():
    lengths = np.full(100, 3)
    easy = np.array([4, 50, 97])
    lengths[easy] = 1
    order = order_for(0, lengths, level=1)
    counts = np.bincount(order[:, :8].ravel(), minlength=100)
    # 40 easy slots over 3 easy problems: each 13 or 14 times, nothing else.
    assert counts.sum() == 40
    assert set(np.flatnonzero(counts)) == set(easy)
    assert counts[easy].max() - counts[easy].min() <= 1


def test_curriculum_order_with_no_easy_problem_uses_all():
    lengths = np.full(100, 3)
    order = order_for(0, lengths, level=1)
    assert order.min() >= 0 and order.max() < 100
    # Once through a permutation of all problems: no repeats in the easy half.
    assert len(np.unique(order[:, :8])) == order[:, :8].size


@pytest.mark.parametrize("curriculum_epochs", [-1, 3])
def test_validate_refuses_curriculum_epochs_out_of_range(curriculum_epochs):
    config = dataclasses.replace(CURRICULUM, curriculum_epochs=curriculum_epochs)
    with pytest.raises(ValueError, match="curriculum_epochs must be in 0..epochs"):
        config.validate()


def test_validate_refuses_curriculum_with_uniform_sampling_alone():
    config = dataclasses.replace(CURRICULUM, sampling="uniform")
    with pytest.raises(ValueError, match="needs --sampling=keras or a --keras_frac"):
        config.validate()


def test_a_keras_share_gives_a_uniform_curriculum_its_short_problems():
    # 5 digits: uniform operands have at most 2 digits once in 10**3 problems,
    # so the easy half of epoch 1 (level 2) comes from the keras share.
    config = dataclasses.replace(
        CURRICULUM,
        digits=5,
        training_size=4_000,
        curriculum_epochs=2,
        epochs=3,
        sampling="uniform",
        keras_fraction=0.25,
    )
    config.validate()
    split, _ = train.make_splits(config)
    lengths = data.longer_operand_length(split.a, split.b)
    level = train.curriculum_level(config.digits, config.curriculum_epochs, 1)
    assert level == 2
    short = np.flatnonzero(lengths <= level)
    assert 0 < len(short) < len(lengths) // 20
    order = order_for(0, lengths, level, num_steps=20, batch_size=64)
    # Every easy row is short, and the 640 easy slots reach every short problem
    # (no fallback to all problems), while the other half is mostly long.
    assert (lengths[order[:, :32]] <= level).all()
    assert set(order[:, :32].ravel()) == set(short)
    assert (lengths[order[:, 32:]] == config.digits).mean() > 0.5


@pytest.fixture(scope="module")
def plain_params():
    """Params after CURRICULUM's epochs run by hand with the plain epoch function.

    That is training as it was before the curriculum existed.
    """
    config = dataclasses.replace(CURRICULUM, curriculum_epochs=0)
    state = train.create_train_state(config)
    train_split, _ = train.make_splits(config)
    train_epoch = train.make_train_epoch(train.make_mesh(), config.batch_size)
    for epoch in range(1, config.epochs + 1):
        state, _ = train_epoch(
            state,
            train_split.queries,
            train_split.answers,
            train.epoch_key(config.seed, epoch),
        )
    return state.params


def test_no_curriculum_trains_as_before(plain_params, monkeypatch):
    def never(*args):
        raise AssertionError("curriculum epoch built with curriculum_epochs=0")

    monkeypatch.setattr(train, "make_curriculum_epoch", never)
    config = dataclasses.replace(CURRICULUM, curriculum_epochs=0)
    result = train.train_and_evaluate(config, log=lambda line: None)
    assert_same_params(result["params"], plain_params)


def test_curriculum_run_trains_and_changes_the_params(curriculum_run, plain_params):
    assert np.isfinite(curriculum_run["train_loss"])
    assert curriculum_run["step"] == CURRICULUM.epochs * CURRICULUM.steps_per_epoch
    assert params_differ(curriculum_run["params"], plain_params)


def test_curriculum_run_resumes_exactly(curriculum_run, tmp_path):
    workdir = str(tmp_path / "run")
    first = dataclasses.replace(CURRICULUM, epochs=1)
    train.train_and_evaluate(first, workdir, log=lambda line: None)
    lines = []
    resumed = train.train_and_evaluate(CURRICULUM, workdir, log=lines.append)
    assert any(line.startswith("Resumed from") for line in lines)
    assert resumed["epochs_run"] == 2
    assert resumed["train_loss"] == curriculum_run["train_loss"]
    assert_same_params(resumed["params"], curriculum_run["params"])
