"""The defaults: three digits, 50,000 problems, both reversals, a 96-unit
model, batch 64, Adam 2e-2 decayed over 4 epochs.

    python -m jaxadd.main --workdir=runs/add3    # or --digits=3

Measured: ``experiments/results/digits_defaults_d2_d3.md``.
"""

from jaxadd.config import Config


def get_config() -> Config:
    return Config()
