"""Training throughput of the Keras example's model in Keras 3, for comparison.

Runs in its own process because Keras picks its backend at import time::

    KERAS_BACKEND=jax python experiments/keras_baseline.py --batch_size=32

``--digits``, ``--batch_size`` and ``--hidden_size`` are ``jaxadd.main``'s flags
(default 3, 32 and 128), and ``--config=NAME`` takes them from a recipe.

Same model (LSTM(128) -> RepeatVector -> LSTM(128) -> Dense softmax), same
problems (jaxadd.data, numpy only) and the same one-hot float inputs and targets
as the Keras example. Prints one JSON line: backend, keras (its version),
batch_size, num_params and examples_per_sec (median of ``--repeats`` epochs).
Needs only keras, numpy and the chosen backend: ``pip install -e .[compare]``.

With ``--serve`` it compiles, prints one JSON line (the same fields, with
``"ready": true`` and the examples per epoch instead of a rate) and then times
one epoch for each line it reads on stdin, printing
``{"seconds": ...}``, until stdin closes. The benchmark uses this to alternate
Keras's epochs with jaxadd's, so that both sides of a ratio are timed on the
same stretch of a shared machine rather than minutes apart.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from experiments import common  # noqa: E402
from jaxadd import data  # noqa: E402
from jaxadd.config import Config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # jaxadd.main's spellings; the Keras example's batch 32 where none is given.
    common.add_config_flags(parser, only=("digits", "batch_size", "hidden_size"))
    parser.add_argument(
        "--examples", type=int, default=20_000, help="examples per timed epoch"
    )
    parser.add_argument("--repeats", type=int, default=3, help="without --serve")
    parser.add_argument(
        "--serve", action="store_true", help="time one epoch per line on stdin"
    )
    args = parser.parse_args()
    config = common.config_from_args(args, Config(batch_size=32, hidden_size=128))
    args.digits, args.batch_size = config.digits, config.batch_size
    args.hidden_size = config.hidden_size

    import keras

    train = common.keras_comparison_problems(
        args.digits, args.examples, args.batch_size
    )
    eye = np.eye(data.VOCAB_SIZE, dtype=np.float32)
    x = eye[train.queries[: args.examples]]
    y = eye[train.answers[: args.examples]]

    model = keras.Sequential(
        [
            keras.Input((data.query_len(args.digits), data.VOCAB_SIZE)),
            keras.layers.LSTM(args.hidden_size),
            keras.layers.RepeatVector(data.answer_len(args.digits)),
            keras.layers.LSTM(args.hidden_size, return_sequences=True),
            keras.layers.Dense(data.VOCAB_SIZE, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam")

    def timed_epoch() -> float:
        start = time.perf_counter()
        model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
        return time.perf_counter() - start

    timed_epoch()  # compiles
    about = {
        "backend": os.environ.get("KERAS_BACKEND", keras.backend.backend()),
        "keras": keras.__version__,
        "batch_size": args.batch_size,
        "num_params": model.count_params(),
    }
    if args.serve:
        print(json.dumps(dict(about, ready=True, examples=len(x))), flush=True)
        for _ in sys.stdin:
            print(json.dumps({"seconds": timed_epoch()}), flush=True)
        return
    times = [timed_epoch() for _ in range(args.repeats)]
    print(json.dumps(dict(about, examples_per_sec=len(x) / statistics.median(times))))


if __name__ == "__main__":
    main()
