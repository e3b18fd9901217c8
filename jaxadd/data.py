"""Addition problems: generation, string layout, integer encoding.

Everything here is a pure numpy function of its arguments (and a seed), so the
same problems come out on every host and every backend.

Layout, for ``digits=3`` (``query_len = 2 * 3 + 1 = 7``, ``answer_len = 3 + 1 = 4``)::

    problem         12 + 345
    query           "12+345 "   padded with spaces on the right to query_len
    reversed query  " 543+21"   the whole padded string, read right to left
    answer          "357 "      padded with spaces on the right to answer_len
    query ids       [1, 2, 10, 3, 4, 5, 11]
    answer ids      [3, 5, 7, 11]

Ids index ``VOCAB = "0123456789+ "``: a digit's id is its value, ``+`` is 10 and
the padding space is 11. The model sees ``one_hot(query_ids)``; it predicts
answer ids.
"""

from __future__ import annotations

import dataclasses

import numpy as np

VOCAB = "0123456789+ "
VOCAB_SIZE = len(VOCAB)
PLUS_ID = VOCAB.index("+")
PAD_ID = VOCAB.index(" ")
_CHAR_TO_ID = {c: i for i, c in enumerate(VOCAB)}

# Operands are held as int64: a sum of two 18-digit numbers still fits.
MAX_DIGITS = 18


def query_len(digits: int) -> int:
    """Length of a padded query: two operands of ``digits`` digits and a ``+``."""
    return 2 * digits + 1


def answer_len(digits: int) -> int:
    """Length of a padded answer: a sum of two ``digits``-digit numbers."""
    return digits + 1


def max_unique_problems(digits: int) -> int:
    """Number of distinct unordered pairs {a, b} with 0 <= a, b < 10**digits."""
    n = 10**digits
    return n * (n + 1) // 2


def _num_decimal_digits(x: np.ndarray) -> np.ndarray:
    """Number of characters in ``str(x)`` for non-negative int64 ``x``."""
    length = np.ones(x.shape, dtype=np.int64)
    for power in range(1, MAX_DIGITS + 2):
        length += x >= 10**power
    return length


def _pair_keys(a: np.ndarray, b: np.ndarray, digits: int) -> np.ndarray:
    """A key equal for {a, b} and {b, a} and distinct for distinct pairs."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    if digits <= 9:  # (10**9)**2 fits in int64
        return lo * 10**digits + hi
    # Wider operands: a structured key with two int64 fields sorts the same way.
    keys = np.empty(a.shape, dtype=[("lo", np.int64), ("hi", np.int64)])
    keys["lo"], keys["hi"] = lo, hi
    return keys


def generate_problems(
    num_problems: int, digits: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draws ``num_problems`` distinct addition problems, as the Keras example does.

    Each operand gets a length drawn uniformly from 1..digits and then that many
    uniform digits (so ``"07"`` is the operand 7). A draw is dropped when the
    unordered pair {a, b} was drawn before, so ``a+b`` and ``b+a`` never both
    appear. Draws happen in vectorized chunks; the result depends only on the
    arguments.

    Args:
      num_problems: how many distinct problems to return.
      digits: the largest number of digits of an operand.
      seed: seed of the numpy generator.

    Returns:
      Two int64 arrays ``(a, b)`` of shape ``[num_problems]``, in the order the
      problems were first drawn (later ones lean towards rarer, longer operands:
      shuffle before splitting).

    Raises:
      ValueError: if ``digits`` is out of range or ``num_problems`` exceeds the
        number of distinct unordered pairs.
    """
    if not 1 <= digits <= MAX_DIGITS:
        raise ValueError(f"digits must be in 1..{MAX_DIGITS}, got {digits}")
    possible = max_unique_problems(digits)
    if num_problems < 0:
        raise ValueError(f"num_problems must be >= 0, got {num_problems}")
    if num_problems > possible:
        raise ValueError(
            f"asked for {num_problems} unique problems but only {possible} distinct "
            f"unordered pairs exist with {digits} digit(s)"
        )
    rng = np.random.default_rng(seed)
    a_parts: list[np.ndarray] = []
    b_parts: list[np.ndarray] = []
    seen = _pair_keys(np.zeros(0, np.int64), np.zeros(0, np.int64), digits)
    found = 0
    while found < num_problems:
        # Over-draw: early chunks almost never collide, and near-exhaustive
        # requests need many draws per new pair, so the chunk grows with the
        # remaining need and never drops below a size worth vectorizing.
        chunk = max(2 * (num_problems - found), 4096)
        lengths = rng.integers(1, digits + 1, size=(2, chunk))
        values = rng.integers(0, 10**lengths, dtype=np.int64)
        a, b = values
        keys = _pair_keys(a, b, digits)
        # First occurrence of each key within the chunk, in draw order.
        _, first = np.unique(keys, return_index=True)
        first.sort()
        fresh = first[~np.isin(keys[first], seen)]
        fresh = fresh[: num_problems - found]
        a_parts.append(a[fresh])
        b_parts.append(b[fresh])
        seen = np.concatenate([seen, keys[fresh]])
        found += len(fresh)
    empty = np.zeros(0, np.int64)
    return np.concatenate(a_parts or [empty]), np.concatenate(b_parts or [empty])


def _digits_into(out: np.ndarray, x: np.ndarray, start: np.ndarray) -> None:
    """Writes the decimal digits of ``x[i]`` into ``out[i, start[i]:]``."""
    length = _num_decimal_digits(x)
    rows = np.arange(len(x))
    for k in range(int(length.max(initial=0))):
        has_digit = k < length
        power = 10 ** np.maximum(length - 1 - k, 0)
        digit = (x // power) % 10
        out[rows[has_digit], (start + k)[has_digit]] = digit[has_digit]


def encode_queries(
    a: np.ndarray, b: np.ndarray, digits: int, reverse: bool
) -> np.ndarray:
    """Query ids ``[n, query_len]`` for the problems ``a[i] + b[i]``.

    ``reverse`` reverses the whole padded query: ``"12+345 "`` becomes
    ``" 543+21"``, so the units digits come last, right before the decoder starts.
    """
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ids = np.full((len(a), query_len(digits)), PAD_ID, dtype=np.int32)
    a_len = _num_decimal_digits(a)
    _digits_into(ids, a, np.zeros_like(a_len))
    ids[np.arange(len(a)), a_len] = PLUS_ID
    _digits_into(ids, b, a_len + 1)
    return ids[:, ::-1].copy() if reverse else ids


def encode_answers(
    sums: np.ndarray, digits: int, reverse_answer: bool = False
) -> np.ndarray:
    """Answer ids ``[n, answer_len]``: ``str(sum)`` padded with spaces on the right.

    With ``reverse_answer`` the digits are written least-significant first and then
    padded (357 becomes ``"753 "``), so the model emits the units digit first.
    """
    sums = np.asarray(sums, np.int64)
    ids = np.full((len(sums), answer_len(digits)), PAD_ID, dtype=np.int32)
    _digits_into(ids, sums, np.zeros(len(sums), np.int64))
    if reverse_answer:
        length = _num_decimal_digits(sums)
        cols = np.arange(ids.shape[1])
        src = np.where(cols < length[:, None], length[:, None] - 1 - cols, cols)
        ids = np.take_along_axis(ids, src, axis=1)
    return ids


def encode_strings(texts: list[str], length: int) -> np.ndarray:
    """Ids ``[n, length]`` of strings over ``VOCAB``, padded with spaces.

    Raises:
      ValueError: if a string is longer than ``length`` or has a symbol outside
        ``VOCAB``.
    """
    ids = np.full((len(texts), length), PAD_ID, dtype=np.int32)
    for row, text in enumerate(texts):
        if len(text) > length:
            raise ValueError(f"{text!r} is longer than {length} characters")
        try:
            ids[row, : len(text)] = [_CHAR_TO_ID[c] for c in text]
        except KeyError as err:
            raise ValueError(
                f"{text!r} contains {err.args[0]!r}, not in {VOCAB!r}"
            ) from None
    return ids


def decode(ids: np.ndarray) -> list[str]:
    """Strings for a ``[n, length]`` array of ids (padding kept)."""
    table = np.array(list(VOCAB))
    return ["".join(row) for row in table[np.asarray(ids)]]


def one_hot(ids, num_classes: int = VOCAB_SIZE):
    """Float32 one-hot ``[..., num_classes]`` of integer ids; works on jax arrays.

    Kept here rather than in the model so that what the network reads is defined
    next to the layout it encodes. Called inside the jitted step, so ids (4 bytes
    a symbol), not one-hot floats (48 bytes), travel to the device.
    """
    import jax.numpy as jnp  # local: the rest of this module is numpy-only

    return (ids[..., None] == jnp.arange(num_classes)).astype(jnp.float32)


@dataclasses.dataclass(frozen=True)
class Split:
    """Encoded problems: ids ``queries [n, query_len]``, ``answers [n, answer_len]``.

    ``a`` and ``b`` keep the operands, for evaluation and for showing samples.
    """

    a: np.ndarray
    b: np.ndarray
    queries: np.ndarray
    answers: np.ndarray

    def __len__(self) -> int:
        return len(self.a)


def make_splits(
    num_problems: int,
    digits: int,
    reverse: bool,
    val_fraction: float,
    seed: int,
    reverse_answer: bool = False,
) -> tuple[Split, Split]:
    """Generates, shuffles and splits unique problems into (train, validation).

    The validation split is the last ``floor(num_problems * val_fraction)``
    problems after the shuffle; no pair appears in both.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    a, b = generate_problems(num_problems, digits, seed)
    order = np.random.default_rng([seed, 1]).permutation(num_problems)
    a, b = a[order], b[order]
    num_val = int(num_problems * val_fraction)
    split_at = num_problems - num_val

    def split(part: slice) -> Split:
        pa, pb = a[part], b[part]
        return Split(
            a=pa,
            b=pb,
            queries=encode_queries(pa, pb, digits, reverse),
            answers=encode_answers(pa + pb, digits, reverse_answer),
        )

    return split(slice(0, split_at)), split(slice(split_at, None))
