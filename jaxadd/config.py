"""The frozen settings of one training run.

Flags live in ``main.py``; everything else takes a ``Config``, so tests and
notebooks build one directly::

    config = Config(digits=2, training_size=5000, epochs=5)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from jaxadd import data

LR_SCHEDULES = ("constant", "cosine")
LSTM_BACKWARDS = ("manual", "autodiff")

# Settings that may change between a run and its resumption: they decide how
# long to train or what to print, not what a step computes.
RESUMABLE_FIELDS = frozenset({"epochs", "target_accuracy", "target_on", "num_samples"})

# What --target_accuracy tests: every set scored after each epoch, or the
# held-out split alone.
TARGETS_ON = ("all", "held_out")

# Seeds are int32: the initial parameters' key is made inside a compiled program.
MAX_SEED = 2**31 - 1
# Each seed holds its problems on every device of its share of the mesh.
MAX_SEEDS = 1024
# Each pad is one more encoder step for every query; a few mark the start.
MAX_LEADING_PADS = 16


# The Keras example's answer format and training settings, one flag-set away
# from the defaults: --noreverse_answer --batch_size=32 --learning_rate=1e-3
# --lr_schedule=constant --epochs=30 (the recipe ``--config=keras_example``).
# "seed" means the RNG seed alone: the Keras example's sampling is "keras", its
# rows of the results table are ``keras-*``.
KERAS_TRAINING = {
    "reverse_answer": False,
    "hidden_size": 128,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "lr_schedule": "constant",
    "epochs": 30,
}


# Earlier names of sampling values, still read from flags and old config.json.
_OLD_SAMPLINGS = {"seed": "keras"}


def _setting(default: Any, help: str, **metadata: Any) -> Any:
    """A ``Config`` field: its default and the help ``--help`` shows for it."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of one run; each field's help is its ``--help`` text.

    The defaults are the Keras example's task (3 digits, 50,000 problems, reversed
    query) with the answer emitted least-significant digit first, a 96-unit
    model (the Keras example's is 128 wide) and Adam 2e-2: settings measured to
    answer 99% of uniform 3-digit problems, for every seed tried, in no more
    time than 3 epochs at width 128 take (``jaxadd/configs/default.py``). Named
    recipes, the Keras example's own settings among them, are in
    ``jaxadd.configs``.
    """

    digits: int = _setting(3, "Largest number of digits of an operand.")
    reverse: bool = _setting(
        True, "Feed the padded query right to left ('12+345 ' -> ' 543+21')."
    )
    reverse_answer: bool = _setting(
        True,
        "Emit the answer least-significant digit first (decoded back for "
        "display and scoring).",
    )
    leading_pads: int = _setting(
        0,
        "Spaces the encoder reads before every query (0 is the Keras layout): "
        "with 2, a query that fills the width, which reversed starts with a "
        "digit, starts with spaces like the shorter ones.",
    )
    leading_zeros: bool = _setting(
        False,
        "Write both operands with --digits digits, leading zeros included "
        "('12+345' is read as '012+345' at 3 digits): every query fills the "
        "width and each digit has one place. The answer is unchanged.",
    )
    training_size: int = _setting(
        50_000, "Unique problems generated, training and held-out together."
    )
    val_fraction: float = _setting(
        0.1, "Share of the problems held out (never trained on)."
    )
    epochs: int = _setting(
        4, "Passes over the training split (fewer with --target_accuracy)."
    )
    curriculum_epochs: int = _setting(
        0,
        "The first N epochs follow the combined length curriculum of Zaremba & "
        "Sutskever: half of each batch from the problems whose longer operand "
        "has at most ceil(digits*e/(N+1)) digits in epoch e, half from all; "
        "needs --sampling=keras, or uniform with a --keras_fraction to draw "
        "the short ones from; 0 is off.",
    )
    batch_size: int = _setting(64, "Examples per step, over all devices.")
    hidden_size: int = _setting(96, "Width of every LSTM.")
    num_layers: int = _setting(1, "Number of decoder LSTMs.")
    forget_bias: float = _setting(
        1.0,
        "Initial bias of every LSTM's forget gate (1 is Keras's "
        "unit_forget_bias): each step keeps sigmoid(b) of the cell state at "
        "the start, 0.73 at 1, 0.95 at 3, so a larger b lets the first "
        "gradients reach digits read 20 steps back.",
    )
    learning_rate: float = _setting(2e-2, "Adam's (peak) learning rate.")
    lr_schedule: str = _setting(
        "cosine",
        "cosine: decay to 0 over --epochs; constant.",
        choices=LR_SCHEDULES,
    )
    warmup_steps: int = _setting(
        0,
        "Steps over which Adam's rate rises linearly from 0 to --learning_rate "
        "before --lr_schedule takes over (the cosine still ends at 0 after "
        "--epochs); 0 starts at the peak.",
    )
    sampling: str = _setting(
        "keras",
        "keras: each operand a uniform length in 1..digits, then uniform digits "
        "(the Keras example's; 'seed', its old name, still works); uniform: "
        "operands uniform in [0, 10**digits).",
        choices=data.SAMPLINGS + tuple(_OLD_SAMPLINGS),
    )
    carry_fraction: float = _setting(
        0.0,
        "Share of the problems built to have long carry chains (equally many "
        "with each longest chain 1..digits); the rest follow --sampling.",
    )
    repeat_fraction: float = _setting(
        0.0,
        "Share of the problems built with a run of one digit in the same columns "
        "of both operands (4444+5555, 3+9999, 1000+1000 at 5 digits), never an "
        "edge case; the rest follow --sampling.",
    )
    sparse_fraction: float = _setting(
        0.0,
        "Share of the problems built with operands mostly zeros below their top "
        "digit (7000+2000, 1000+1010: each lower digit 0 with a chance drawn per "
        "problem), never an edge case; the rest follow --sampling.",
    )
    full_run_fraction: float = _setting(
        0.0,
        "Share of the problems built with two operands of --digits or --digits - 1 "
        "digits (fewer where a free digit on top is 0), each a run of one digit "
        "over all but one or two columns, the same in both (9999999989+9999999999, "
        "4444444444+5555555515, 999999989+999999999), never an edge case; the "
        "rest follow --sampling.",
    )
    keras_fraction: float = _setting(
        0.0,
        "With --sampling=uniform, the share of the problems drawn the keras way "
        "instead, so that short operands (9+1, 0+0), which uniform operands "
        "almost never have, are trained on too.",
    )
    seed: int = _setting(
        0,
        "Seeds the problems, the split, initialization, shuffling and the "
        f"samples shown (0..{MAX_SEED}).",
    )
    num_seeds: int = _setting(
        1,
        "Train the seeds seed, seed+1, ..., seed+N-1 together, as one compiled "
        "program with a seed axis; each gets WORKDIR/seed_K/, an ordinary "
        "workdir, and WORKDIR/seeds.json sums them up.",
    )
    target_accuracy: float | None = _setting(
        None, "Stop after the first epoch whose exact match reaches it (--target_on)."
    )
    target_on: str = _setting(
        "all",
        "What --target_accuracy tests: all, exact match on the held-out split, "
        "on full-length problems (operands uniform in [0, 10**digits)) and on "
        "the longest carry chains, at once; held_out, the held-out split alone, "
        "whose operands are mostly short with --sampling=keras.",
        choices=TARGETS_ON,
    )
    num_samples: int = _setting(10, "Held-out problems shown after each epoch.")
    lstm_backward: str = _setting(
        "manual",
        "How the LSTMs' gradients are taken: manual, the hand-written backward "
        "pass of the recurrence (faster), or autodiff, JAX's differentiation of "
        "the forward scan; they agree to float rounding.",
        choices=LSTM_BACKWARDS,
    )

    def __post_init__(self) -> None:
        if self.sampling in _OLD_SAMPLINGS:
            # Frozen: the one place that may set a field after construction.
            object.__setattr__(self, "sampling", _OLD_SAMPLINGS[self.sampling])

    @property
    def num_val(self) -> int:
        return int(self.training_size * self.val_fraction)

    @property
    def num_train(self) -> int:
        return self.training_size - self.num_val

    @property
    def steps_per_epoch(self) -> int:
        """Full batches per epoch; the remainder is dropped (a new one each epoch)."""
        return self.num_train // self.batch_size

    def validate(self) -> None:
        """Raises ``ValueError`` with one line naming the first bad setting."""
        if not 1 <= self.digits <= data.MAX_DIGITS:
            raise ValueError(
                f"digits must be in 1..{data.MAX_DIGITS}, got {self.digits}"
            )
        if not math.isfinite(self.forget_bias):
            raise ValueError(f"forget_bias must be finite, got {self.forget_bias}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if (
            self.lr_schedule == "cosine"
            and self.warmup_steps
            and self.warmup_steps >= self.epochs * self.steps_per_epoch
        ):
            raise ValueError(
                f"warmup_steps {self.warmup_steps} leaves no steps to decay over: "
                f"{self.epochs} epochs of {self.steps_per_epoch} steps"
            )
        possible = data.max_unique_problems(self.digits)
        if self.training_size <= 0:
            raise ValueError(f"training_size must be > 0, got {self.training_size}")
        if self.training_size > possible:
            raise ValueError(
                f"training_size {self.training_size} exceeds the {possible} distinct "
                f"unordered problems with {self.digits} digit(s)"
            )
        if not 0 <= self.leading_pads <= MAX_LEADING_PADS:
            raise ValueError(
                f"leading_pads must be in 0..{MAX_LEADING_PADS}, "
                f"got {self.leading_pads}"
            )
        if self.sampling not in data.SAMPLINGS:
            raise ValueError(
                f"sampling must be one of {', '.join(data.SAMPLINGS)}, "
                f"got {self.sampling!r}"
            )
        data.check_shares(
            self.carry_fraction,
            self.repeat_fraction,
            self.sparse_fraction,
            self.full_run_fraction,
        )
        if not 0.0 <= self.keras_fraction <= 1.0:  # also refuses NaN
            raise ValueError(
                f"keras_fraction must be in [0, 1], got {self.keras_fraction}"
            )
        if self.keras_fraction and self.sampling != "uniform":
            raise ValueError(
                "keras_fraction needs --sampling=uniform (it replaces a share of "
                "uniform problems by keras ones)"
            )
        # The carry-built share is limited per chain length (tiny digit counts).
        try:
            data.check_request(
                self.training_size,
                self.digits,
                self.sampling,
                self.carry_fraction,
                self.repeat_fraction,
                self.sparse_fraction,
                self.full_run_fraction,
            )
        except ValueError as err:
            raise ValueError(f"training_size {self.training_size}: {err}") from None
        if not (0.0 < self.val_fraction < 1.0):
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.num_val == 0:
            raise ValueError(
                f"val_fraction {self.val_fraction} of {self.training_size} problems "
                "leaves no validation problem"
            )
        if self.epochs <= 0:
            raise ValueError(f"epochs must be > 0, got {self.epochs}")
        if not 0 <= self.curriculum_epochs <= self.epochs:
            raise ValueError(
                f"curriculum_epochs must be in 0..epochs ({self.epochs}), "
                f"got {self.curriculum_epochs}"
            )
        if self.curriculum_epochs and not (
            self.sampling == "keras" or self.keras_fraction > 0
        ):
            # Uniform operands are almost all full length: the easy half of a
            # batch would cycle through a handful of short problems.
            raise ValueError(
                "curriculum_epochs needs --sampling=keras or a --keras_fraction "
                "(uniform sampling has almost no short operands to start from)"
            )
        if self.batch_size <= 0:
            raise ValueError(f"batch_size must be > 0, got {self.batch_size}")
        if self.batch_size > self.num_train:
            raise ValueError(
                f"batch_size {self.batch_size} is larger than the {self.num_train} "
                "training problems"
            )
        if self.hidden_size <= 0:
            raise ValueError(f"hidden_size must be > 0, got {self.hidden_size}")
        if self.num_layers <= 0:
            raise ValueError(f"num_layers must be > 0, got {self.num_layers}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, "
                f"got {self.lr_schedule!r}"
            )
        if self.target_accuracy is not None and not 0.0 < self.target_accuracy <= 1.0:
            raise ValueError(
                f"target_accuracy must be in (0, 1], got {self.target_accuracy}"
            )
        if self.target_on not in TARGETS_ON:
            raise ValueError(
                f"target_on must be one of {', '.join(TARGETS_ON)}, "
                f"got {self.target_on!r}"
            )
        if self.lstm_backward not in LSTM_BACKWARDS:
            raise ValueError(
                f"lstm_backward must be one of {', '.join(LSTM_BACKWARDS)}, "
                f"got {self.lstm_backward!r}"
            )
        if self.num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, got {self.num_samples}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be in 0..{MAX_SEED}, got {self.seed}")
        if not 1 <= self.num_seeds <= MAX_SEEDS:
            raise ValueError(
                f"num_seeds must be in 1..{MAX_SEEDS}, got {self.num_seeds}"
            )
        if self.seed + self.num_seeds - 1 > MAX_SEED:
            raise ValueError(
                f"seeds {self.seed}..{self.seed + self.num_seeds - 1} pass the "
                f"largest seed, {MAX_SEED}"
            )

    @classmethod
    def fields(cls) -> tuple[dataclasses.Field, ...]:
        """The settings, in order, each with ``metadata["help"]``."""
        return dataclasses.fields(cls)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        """Builds a Config from ``to_dict`` output, ignoring unknown keys."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})
