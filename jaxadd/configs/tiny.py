"""A seconds-long smoke run for tests and notebooks: two digits, 600 problems,
width 16, two epochs. It checks that everything runs, not that it learns.

    python -m jaxadd.main --config=tiny --workdir=/tmp/tiny
"""

from jaxadd.config import Config


def get_config() -> Config:
    return Config(
        digits=2,
        training_size=600,
        epochs=2,
        batch_size=32,
        learning_rate=1e-3,
        lr_schedule="constant",
        hidden_size=16,
        num_samples=2,
    )
