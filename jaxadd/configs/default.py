"""The defaults: three digits, 50,000 problems, both reversals, batch 64, Adam
1e-2 decayed over 4 epochs.

    python -m jaxadd.main --workdir=runs/add3    # or --digits=3

Measured (``experiments/results/digits_defaults.md``, seeds 0, 1 and 2, 2-core
development CPU, 33.4 to 34.6 s each): 99.24% to 99.67% exact match on
uniform-10k (10,000 uniform problems none trained on), 99.8% to 100% on the
longest carry chains. Stopped at 99% held-out exact match instead (the
``best-d3`` row, 3 epochs) it took 27.0 s and scored 99.39% (seed 0).
"""

from jaxadd.config import Config


def get_config() -> Config:
    return Config()
