"""Ten digits: 500,000 problems, a fifth built with long carries, a tenth with
runs of one digit, the rest 30% uniform and 70% drawn the Keras way, every
operand written with leading zeros after two leading pads; width 256, batch
128, Adam 3e-3 decayed over 13 epochs, a 4-epoch length curriculum.

    python -m jaxadd.main --config=d10 --workdir=runs/add10    # or --digits=10

Measured with ``experiments/long_addition.py --config=d10 --leading_pads=2
--sampling=uniform --keras_fraction=0.7 --repeat_fraction=0.1
--leading_zeros --seed=K``, before those flags became part of ``d10`` (AMD
EPYC development CPU, 2 cores, 5.85M examples, 1.4-2 hours a seed;
``experiments/results/long_addition_d10_pads2_uniform20_runs10_zeros_seed{0,1,2}.md``):

    seed  held-out  uniform-10k  longest chain  edge cases
    0     99.92%    99.99%       100%           29 of 31
    1     99.89%    99.87%       100%           33 of 34
    2     99.53%    99.28%       100%           30 of 33

Every seed answers ``1000000000+1000000000=1000000000``, and seeds 0 and 2
get ``9999999999+9999999999`` wrong too: operands mostly zeros below a
nonzero top digit are the weak region (``experiments/edge_neighbours.py``).
Not yet within the goal's 20 minutes a seed: 99% uniform came after
4.05-5.40M examples.

Before the leading zeros (``d10`` until session 27: Keras sampling with a
fifth long carries), 0 of 3 seeds reached 99% uniform-10k (93.42%, 96.56%,
19.99%; ``long_addition_d10_lr3e-3_13ep_seed{0,1,2}.md``); with pads, a fifth
uniform and the runs but no zeros, 1 of 3 (100%, 34.48%, 3.88%). What each
lever did: ``experiments/README.md``, "Long addition". ``--digits=8`` and
``--digits=9`` follow this recipe too, unmeasured with it.
"""

from jaxadd.config import Config


def get_config() -> Config:
    return Config(
        digits=10,
        training_size=500_000,
        hidden_size=256,
        batch_size=128,
        learning_rate=3e-3,
        epochs=13,
        curriculum_epochs=4,
        sampling="uniform",
        keras_fraction=0.7,
        carry_fraction=0.2,
        repeat_fraction=0.1,
        leading_pads=2,
        leading_zeros=True,
    )
