"""Five digits: 550,000 problems, operands uniform with a fifth drawn the Keras
way (short ones) and a tenth built with runs of one digit (``3+9999``), every
operand written with leading zeros after two leading pads, batch 128, Adam 1e-2
decayed over 3 epochs.

    python -m jaxadd.main --config=d5 --workdir=runs/add5    # or --digits=5

Measured with ``experiments/long_addition.py --config=d5 --leading_zeros
--leading_pads=2 --seed=K``, before the leading zeros became part of ``d5``
(AMD EPYC development CPU, 2 cores, beside a 10-digit run, so not a timing;
``experiments/results/probe_d5_zeros_seed{0,1,2}.md``): 100% exact match on
uniform-10k and on the 1,000 longest carry chains, and every edge case right
(17 of 17, 16 of 16, 20 of 20), for each seed. The bare ``--digits=5``
(``experiments/digits_defaults.py --digits=4,5``,
``digits_defaults_d4_d5_zeros.md``, the same machine alone, 2026-12-08) gave
the same figures in 259 to 265 s a seed.

Without the leading zeros (``experiments/long_addition.py --config=d5
--repeat_fraction=0.1 --seed=K`` in session 21, Intel Xeon,
``long_addition_d5_runs10_seed{0,1,2}.md``): 99.97%, 99.96% and 99.99%
uniform-10k, 99.6% to 99.9% longest chains, 17 of 17, 16 of 16 and 18 of 20
edge cases (seed 2: ``9+1=0``, ``1+9=19``); the bare ``--digits=5`` took 143
to 162 s a seed that way (``digits_defaults_d5_runs10.md``). Without the runs
as well (``digits_defaults_d4_d5.md``): ``1+9999`` and ``1+99999`` wrong on
every seed.
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
        leading_pads=2,
        leading_zeros=True,
    )
