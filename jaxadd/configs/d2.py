"""Two digits: 5,000 problems (the Keras example's count), batch 32, Adam 1e-2
decayed over 16 epochs.

    python -m jaxadd.main --config=d2 --workdir=runs/add2    # or --digits=2

Measured (``experiments/results/digits_defaults_d1_d3.md``, seeds 0, 1 and 2,
2-core development CPU, 5.8 to 6.1 s each, at the default's width, 96): 99.27%
to 99.45% exact match on the 550 problems of the 5,050 that the run did not
train on (all of them, held-out split included), 100% on the longest carry
chains. The earlier ``best-d2`` settings (width 128, Adam 5e-3 over 40 epochs,
stopped at 99% held-out) took 7.3 s in the same session and scored 99.27%.
"""

from jaxadd.config import Config


def get_config() -> Config:
    return Config(
        digits=2,
        training_size=5_000,
        batch_size=32,
        learning_rate=1e-2,
        epochs=16,
    )
