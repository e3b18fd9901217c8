"""Five digits: 550,000 problems, operands uniform with a fifth drawn the Keras
way (short ones), batch 128, Adam 1e-2 decayed over 3 epochs.

    python -m jaxadd.main --config=d5 --workdir=runs/add5    # or --digits=5

Measured (``experiments/results/digits_defaults_d5_4_epochs.md``, seeds 0, 1
and 2, 2-core development CPU): 99.98% to 99.99% exact match on uniform-10k,
99.8% to 99.9% on the longest carry chains, 14 of 15 to 16 of 17 edge cases
(``1+99999`` or ``0+99999`` wrong), in 156 to 170 s. The earlier settings
(Keras sampling, stopped at 99% held-out after 4 epochs), rerun the same
session: 156.5 s, 96.67% uniform, 82.6% longest chains. With 5 epochs
(``digits_defaults.md``, another session) it scored 99.99% to 100% uniform.
"""

from jaxadd.config import Config


def get_config() -> Config:
    return Config(
        digits=5,
        training_size=550_000,
        hidden_size=128,
        batch_size=128,
        learning_rate=1e-2,
        epochs=3,
        sampling="uniform",
        keras_fraction=0.2,
    )
