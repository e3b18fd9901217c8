"""Shared settings: small runs that still learn something in a few seconds."""

import pytest

from jaxadd import configs
from jaxadd.config import Config

# Two-digit addition reaches well above chance in ten quick epochs with these.
# A test fixture, not a recipe: tests need it to learn something in seconds,
# not to reach 99% (that is jaxadd/configs/d2.py), so it is not in configs.
SMALL = Config(
    digits=2,
    training_size=5_000,
    epochs=10,
    batch_size=128,
    learning_rate=1e-2,
    lr_schedule="constant",
    hidden_size=128,
    num_samples=0,
)

# The recipe's own definition, so there is one copy of the tiny setting.
TINY = configs.get("tiny")


class KeptLines:
    """A ``log`` callable that keeps the lines instead of printing them."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)


@pytest.fixture
def quiet() -> KeptLines:
    return KeptLines()
