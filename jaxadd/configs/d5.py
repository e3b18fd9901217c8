"""Five digits: 550,000 problems, operands uniform with a fifth drawn the Keras
way (short ones) and a tenth built with runs of one digit (``3+9999``), batch
128, Adam 1e-2 decayed over 3 epochs.

    python -m jaxadd.main --config=d5 --workdir=runs/add5    # or --digits=5

Measured with ``experiments/long_addition.py --config=d5 --repeat_fraction=0.1
--seed=K``, before the runs became part of ``d5`` (Intel Xeon development CPU,
2 cores; ``experiments/results/long_addition_d5_runs10_seed{0,1,2}.md``):

    seed  uniform-10k  longest chain  edge cases
    0     99.97%       99.6%          17 of 17
    1     99.96%       99.8%          16 of 16
    2     99.99%       99.9%          18 of 20   (9+1=0, 1+9=19)

The bare ``--digits=5`` (``experiments/digits_defaults.py --digits=5``,
``digits_defaults_d5_runs10.md``, the same machine, 2026-12-06) gave the same
figures to the last digit in 143 to 162 s (10,000-12,000 examples/s that day).
Without the runs (``digits_defaults_d4_d5.md``, 2026-12-04, 12,200-13,100
examples/s): 99.82% to 99.91% uniform-10k, 99.3% to 99.8% longest chains,
12 of 15 to 14 of 17 edge cases (``1+99999`` and ``1+9999`` wrong on every
seed), in 124 to 129 s; the earlier settings (Keras sampling, stopped at 99%
held-out) took 208.1 s that day for 99.48% uniform.
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
        repeat_fraction=0.1,
    )
