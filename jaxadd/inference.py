"""A trained model's answers: jitted prediction over fixed-size chunks, decoded.

Shared by training (the sample lines after each epoch), ``jaxadd.predict`` and
``jaxadd.evaluate``. Every set of queries, whatever its size, runs in chunks of
one shape (the last padded), so a model compiles once per chunk size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxadd import data, models
from jaxadd.config import Config

# Rows per compiled call when scoring or answering a whole set.
EVAL_CHUNK = 2048


def make_predict_fn(model: models.Seq2SeqLSTM) -> Callable:
    """A jitted ``(params, queries) -> (answer ids, probability of that answer)``."""

    @jax.jit
    def predict(params, queries):
        logits = model.apply({"params": params}, data.one_hot(queries))
        log_probs = jax.nn.log_softmax(logits)
        ids = jnp.argmax(logits, -1)
        chosen = jnp.take_along_axis(log_probs, ids[..., None], -1)[..., 0]
        return ids, jnp.exp(chosen.sum(-1))

    return predict


def padded_chunks(*arrays: np.ndarray, chunk: int = EVAL_CHUNK) -> Iterator[tuple]:
    """Yields ``(*chunks, mask)``; every chunk has ``chunk`` rows (the last padded).

    A fixed shape means one compilation, whatever the size of the set.
    """
    n = len(arrays[0])
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        mask = np.zeros(chunk, bool)
        mask[: stop - start] = True
        parts = []
        for array in arrays:
            part = np.zeros((chunk,) + array.shape[1:], array.dtype)
            part[: stop - start] = array[start:stop]
            parts.append(part)
        yield (*parts, mask)


def predict_in_chunks(
    predict_fn: Callable, params: Any, queries: np.ndarray, chunk: int = EVAL_CHUNK
) -> tuple[np.ndarray, np.ndarray]:
    """Answer ids ``[n, answer_len]`` and their probabilities ``[n]`` for any ``n``.

    ``predict_fn`` is ``make_predict_fn``'s; it runs on fixed-size chunks
    (``padded_chunks``), so any number of queries costs one compilation.
    """
    ids_parts, probability_parts = [], []
    for rows, mask in padded_chunks(queries, chunk=chunk):
        ids, probability = predict_fn(params, rows)
        ids_parts.append(np.asarray(ids)[mask])
        probability_parts.append(np.asarray(probability)[mask])
    if not ids_parts:
        return np.zeros((0, 0), np.int32), np.zeros(0, np.float32)
    return np.concatenate(ids_parts), np.concatenate(probability_parts)


def decode_answers(ids: np.ndarray, reverse_answer: bool) -> list[str]:
    """Answers as a person writes them: no padding, most significant digit first."""
    texts = [text.strip() for text in data.decode(ids)]
    return [text[::-1] for text in texts] if reverse_answer else texts


def format_samples(
    predict_fn: Callable,
    params: Any,
    split: data.Split,
    config: Config,
    indices: np.ndarray,
) -> list[str]:
    """Lines like ``Q 535+61  T 596  ☑ 596`` for the problems at ``indices``."""
    ids, _ = predict_fn(params, split.queries[indices])
    guesses = decode_answers(np.asarray(ids), config.reverse_answer)
    width = data.query_len(config.digits)
    lines = []
    for i, guess in zip(indices, guesses):
        question = f"{split.a[i]}+{split.b[i]}"
        truth = str(split.a[i] + split.b[i])
        mark = "☑" if guess == truth else "☒"
        lines.append(
            f"Q {question:<{width}} T {truth:<{config.digits + 1}} {mark} {guess}"
        )
    return lines
