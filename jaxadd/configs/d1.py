"""One digit: all 55 distinct problems, 5 held out, batch 5, Adam 1e-2 decayed
over 60 epochs.

    python -m jaxadd.main --config=d1 --workdir=runs/add1

With one digit there are only 55 unordered problems (``0+0`` to ``9+9``), so
the run trains on 50 of them and "full-length problems none of which it
trained on" are the 5 held-out ones: the figures say whether it learned the
table, not whether it generalises. Measured: see ``experiments/results/
digits_defaults.md``, rows for 1 digit.
"""

from jaxadd.config import Config


def get_config() -> Config:
    return Config(
        digits=1,
        training_size=55,
        batch_size=5,
        learning_rate=1e-2,
        epochs=60,
    )
