"""Six digits: 700,000 problems, operands uniform with a fifth drawn the Keras
way (short ones), batch 128, Adam 1e-2 decayed over 5 epochs: ``d5`` with
about 1.6x its examples.

    python -m jaxadd.main --config=d6 --workdir=runs/add6    # or --digits=6

Measured: see ``experiments/results/digits_defaults_d6.md``.
"""

from jaxadd.config import Config


def get_config() -> Config:
    return Config(
        digits=6,
        training_size=700_000,
        batch_size=128,
        learning_rate=1e-2,
        epochs=5,
        sampling="uniform",
        keras_fraction=0.2,
    )
