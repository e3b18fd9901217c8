"""Shared settings: small runs that still learn something in a few seconds."""

import pytest

from jaxadd.config import Config

# Two-digit addition reaches well above chance in ten quick epochs with these.
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

TINY = Config(
    digits=2,
    training_size=600,
    epochs=2,
    batch_size=32,
    learning_rate=1e-3,
    lr_schedule="constant",
    hidden_size=16,
    num_samples=2,
)


class KeptLines:
    """A ``log`` callable that keeps the lines instead of printing them."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)


@pytest.fixture
def quiet() -> KeptLines:
    return KeptLines()
