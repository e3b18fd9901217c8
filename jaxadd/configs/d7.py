"""Seven digits: 1,000,000 problems, operands uniform with a fifth drawn the
Keras way (short ones), batch 128, Adam 1e-2 decayed over 6 epochs: ``d6``
with about 1.7x its examples.

    python -m jaxadd.main --config=d7 --workdir=runs/add7    # or --digits=7

Measured: see ``experiments/results/digits_defaults_d7.md``.
"""

from jaxadd.config import Config


def get_config() -> Config:
    return Config(
        digits=7,
        training_size=1_000_000,
        hidden_size=128,
        batch_size=128,
        learning_rate=1e-2,
        epochs=6,
        sampling="uniform",
        keras_fraction=0.2,
    )
