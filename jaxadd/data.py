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

With ``leading_pads=2`` every query gets two more spaces in front, as the
encoder reads it: the reversed query above becomes ``"   543+21"`` (9 ids).
Without them a query that fills the width, ``"999+999"``, reversed, starts
with a digit, not a space, and a model can learn the short queries and not it.
With ``leading_zeros`` both operands are written with ``digits`` digits:
``12+345`` is read as ``"012+345"``, reversed ``"543+210"``, so a digit's place
in the query depends on its column alone, not on the operands' lengths.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from jaxadd import carries

VOCAB = "0123456789+ "
VOCAB_SIZE = len(VOCAB)
PLUS_ID = VOCAB.index("+")
PAD_ID = VOCAB.index(" ")
_CHAR_TO_ID = {c: i for i, c in enumerate(VOCAB)}

# Operands are held as int64: a sum of two 18-digit numbers still fits.
MAX_DIGITS = 18

# How operands are drawn: "keras" is the Keras example's (a uniform length, then
# uniform digits), "uniform" is uniform over [0, 10**digits).
SAMPLINGS = ("keras", "uniform")


def query_len(digits: int, leading_pads: int = 0) -> int:
    """Length of a padded query: two operands of ``digits`` digits, a ``+`` and
    the ``leading_pads`` spaces read before them."""
    return 2 * digits + 1 + leading_pads


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


def longer_operand_length(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Digits of the longer operand of each problem ``a[i] + b[i]`` (int64)."""
    return _num_decimal_digits(np.maximum(a, b))


def pair_keys(a: np.ndarray, b: np.ndarray, digits: int) -> np.ndarray:
    """A key equal for {a, b} and {b, a} and distinct for distinct pairs."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    if digits <= 9:  # (10**9)**2 fits in int64
        return lo * 10**digits + hi
    # Wider operands: a structured key with two int64 fields sorts the same way.
    keys = np.empty(a.shape, dtype=[("lo", np.int64), ("hi", np.int64)])
    keys["lo"], keys["hi"] = lo, hi
    return keys


def draw_unique(
    draw: Callable[[int], tuple[np.ndarray, np.ndarray]],
    num_problems: int,
    digits: int,
    exclude: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Calls ``draw(n)`` until it has ``num_problems`` distinct unordered problems.

    A draw is dropped when its pair {a, b} was drawn before or is in ``exclude``,
    so ``a+b`` and ``b+a`` never both appear. The caller must make sure enough
    such problems exist, or this never returns.

    Args:
      draw: ``n -> (a, b)``, ``n`` fresh problems (consuming a generator).
      num_problems: how many distinct problems to return.
      digits: the largest number of digits of an operand (sizes the keys).
      exclude: keys of pairs that must not be returned, sorted and unique
        (``np.unique(pair_keys(...))``): a large training set is then checked by
        binary search instead of being merged into every chunk's ``np.isin``.

    Returns:
      Two int64 arrays ``(a, b)`` of shape ``[num_problems]``, in draw order.
    """
    empty = np.zeros(0, np.int64)
    seen = pair_keys(empty, empty, digits)
    a_parts: list[np.ndarray] = []
    b_parts: list[np.ndarray] = []
    found = 0
    while found < num_problems:
        # Over-draw: early chunks almost never collide, and near-exhaustive
        # requests need many draws per new pair, so the chunk grows with the
        # remaining need and never drops below a size worth vectorizing.
        chunk = max(2 * (num_problems - found), 4096)
        a, b = draw(chunk)
        keys = pair_keys(a, b, digits)
        # First occurrence of each key within the chunk, in draw order.
        _, first = np.unique(keys, return_index=True)
        first.sort()
        fresh = first[~np.isin(keys[first], seen)]
        if exclude is not None and len(exclude):
            at = np.minimum(np.searchsorted(exclude, keys[fresh]), len(exclude) - 1)
            fresh = fresh[exclude[at] != keys[fresh]]
        fresh = fresh[: num_problems - found]
        a_parts.append(a[fresh])
        b_parts.append(b[fresh])
        seen = np.concatenate([seen, keys[fresh]])
        found += len(fresh)
    return np.concatenate(a_parts or [empty]), np.concatenate(b_parts or [empty])


def sample_with_runs(
    rng: np.random.Generator, n: int, digits: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` problems whose operands each hold a run of one digit, in the same columns.

    Operands are drawn the Keras way (a length uniform in ``1..digits``, then
    uniform digits); then a run of columns, ``r`` uniform in ``1..L`` long at a
    uniform place among the ``L`` columns of the longer operand (column 0 is the
    units), is set to a digit in ``a`` and a digit in ``b``, each uniform (they may be
    the same), as far as each operand reaches. So ``4444+5555``, ``3+9999`` (a
    short operand against a run of nines) and ``1000+1000`` (a run of zeros) come up,
    which uniform digits almost never give: for ``digits=10`` about 5% of these
    problems have a 10-digit operand with a run of 8 or more.
    """
    lengths = rng.integers(1, digits + 1, size=(2, n))
    operands = rng.integers(0, 10**lengths, dtype=np.int64)
    longer = lengths.max(axis=0)
    run = rng.integers(1, longer + 1)
    start = rng.integers(0, longer - run + 1)
    run_digits = rng.integers(0, 10, size=(2, n))
    for column in range(digits):
        power = np.int64(10**column)
        inside = (start <= column) & (column < start + run) & (column < lengths)
        old_digit = operands // power % 10
        operands += np.where(inside, (run_digits - old_digit) * power, 0)
    return operands[0], operands[1]


def sample_sparse(
    rng: np.random.Generator, n: int, digits: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` problems whose operands are mostly zeros below their top digit.

    Each operand gets a length ``L`` uniform in ``1..digits`` and a top digit
    uniform in 1..9; each of its ``L - 1`` lower digits is 0 with probability
    ``p``, else uniform in 1..9, where ``p`` is drawn uniform in [0, 1) per
    problem, the same for both operands. So ``7000000000+2000000000`` and
    ``1000000000+1000100000`` come up, which the other draws almost never give
    (for ``digits=10`` about one of these problems in 2,000 has two 10-digit
    operands with nothing but zeros below their top digits): with
    ``leading_zeros``, short operands put zeros above the digits, these put them
    below.
    """
    lengths = rng.integers(1, digits + 1, size=(2, n))
    zero_chance = rng.random(n)
    operands = np.zeros((2, n), np.int64)
    for column in range(digits):
        nonzero = rng.integers(1, 10, size=(2, n))
        zero = rng.random((2, n)) < zero_chance
        digit = np.where(column == lengths - 1, nonzero, np.where(zero, 0, nonzero))
        operands += np.where(column < lengths, digit, 0) * np.int64(10**column)
    return operands[0], operands[1]


def sample_full_runs(
    rng: np.random.Generator, n: int, digits: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` problems whose two operands are each a run of one digit over all but
    one or two of their columns, the same columns in both.

    Both operands get a width ``w``, ``digits`` or ``digits - 1`` (at least 1)
    at even odds; a run covers ``r`` of those columns, ``r`` uniform in
    ``w-2..w-1`` (at least 1), at a uniform place; its digit is uniform in 1..9
    in ``a`` and, separately, in ``b``; the other columns get uniform digits 0..9
    (a zero on top makes an operand shorter). So ``9999999989+9999999999``,
    ``4444444444+5555555515`` and ``999999989+999999999`` come up (a full run
    like ``8888888888+9999999999`` only where free digits match): the
    neighbours of the all-nines and ``44..4+55..5`` edge cases at the two
    longest widths. At 10 digits about one of these problems in 180 has two
    10-digit operands with nines in both in all but at most two columns, one in
    33,000 of ``sample_with_runs``'. The caller leaves out the edge cases
    themselves (``generate_problems``).
    """
    width = rng.integers(max(1, digits - 1), digits + 1, size=n)
    run = rng.integers(np.maximum(1, width - 2), np.maximum(1, width - 1) + 1)
    start = rng.integers(0, width - run + 1)
    run_digits = rng.integers(1, 10, size=(2, n))
    operands = np.zeros((2, n), np.int64)
    for column in range(digits):
        free = rng.integers(0, 10, size=(2, n))
        inside = (start <= column) & (column < start + run)
        digit = np.where(inside, run_digits, np.where(column < width, free, 0))
        operands += digit * np.int64(10**column)
    return operands[0], operands[1]


def count_full_runs(digits: int) -> int:
    """Unordered pairs ``sample_full_runs`` can draw that are not edge cases:
    exact up to 2 digits, a lower bound above (enough to refuse what cannot be
    drawn).

    From 3 digits, the runs over all but the top two columns alone give
    ``81 * 100**2`` distinct ordered pairs (the run digits and free digits can
    be read back from the operands), so at least half as many unordered ones.
    """
    edge = np.unique(pair_keys(*edge_cases(digits), digits))
    if digits >= 3:
        return 81 * 100**2 // 2 - len(edge)
    operands = np.arange(1, 10**digits)
    a, b = (grid.ravel() for grid in np.meshgrid(operands, operands))
    same = np.zeros(len(a), bool)  # a run over all but at most 2 columns
    for column in range(digits):  # at 1 or 2 digits any one column is a run
        same |= (a // 10**column % 10 > 0) & (b // 10**column % 10 > 0)
    keys = np.unique(pair_keys(a[same], b[same], digits))
    return len(keys) - int(np.isin(keys, edge).sum())


def carry_counts(num_problems: int, digits: int, carry_fraction: float) -> list[int]:
    """Problems to build per longest carry chain ``1..digits`` (list index 0 is 1).

    ``round(num_problems * carry_fraction)`` problems, shared out as evenly as
    possible over the chain lengths, the shorter ones taking the remainder.
    """
    total = round(num_problems * carry_fraction)
    share, extra = divmod(total, digits)
    return [share + (k < extra) for k in range(digits)]


def check_shares(
    carry_fraction: float,
    repeat_fraction: float,
    sparse_fraction: float,
    full_run_fraction: float,
) -> None:
    """Raises ``ValueError`` (one line) unless the built shares fit in [0, 1].

    Each share is checked against what the ones before it leave, in the order
    ``generate_problems`` draws them; NaN is refused too.
    """
    if not 0.0 <= carry_fraction <= 1.0:
        raise ValueError(f"carry_fraction must be in [0, 1], got {carry_fraction}")
    # The rounding slack lets 0.2 and 0.8 add up to 1.
    if not (0.0 <= repeat_fraction and carry_fraction + repeat_fraction <= 1 + 1e-9):
        raise ValueError(
            f"repeat_fraction must be in [0, 1 - carry_fraction], got {repeat_fraction}"
        )
    built = carry_fraction + repeat_fraction + sparse_fraction
    if not (0.0 <= sparse_fraction and built <= 1 + 1e-9):
        raise ValueError(
            "sparse_fraction must be in [0, 1 - carry_fraction - repeat_fraction], "
            f"got {sparse_fraction}"
        )
    built += full_run_fraction
    if not (0.0 <= full_run_fraction and built <= 1 + 1e-9):
        raise ValueError(
            "full_run_fraction must be in [0, 1 - carry_fraction - repeat_fraction "
            f"- sparse_fraction], got {full_run_fraction}"
        )


def check_request(
    num_problems: int,
    digits: int,
    sampling: str = "keras",
    carry_fraction: float = 0.0,
    repeat_fraction: float = 0.0,
    sparse_fraction: float = 0.0,
    full_run_fraction: float = 0.0,
) -> None:
    """Raises ``ValueError`` (one line) if the problems asked for cannot be drawn.

    Both samplings can draw every pair, so the limit is the number of distinct
    unordered pairs; the carry-built share is also limited by how many distinct
    problems have each longest carry chain, the run-built share by the pairs
    that are not edge cases, the sparse share by the pairs of nonzero operands
    and the full-run share by ``count_full_runs`` (a lower bound from 3 digits,
    so a request near it may be refused though it could be drawn). A share of
    0 is never refused.
    """
    if not 1 <= digits <= MAX_DIGITS:
        raise ValueError(f"digits must be in 1..{MAX_DIGITS}, got {digits}")
    if sampling not in SAMPLINGS:
        raise ValueError(
            f"sampling must be one of {', '.join(SAMPLINGS)}, got {sampling!r}"
        )
    check_shares(carry_fraction, repeat_fraction, sparse_fraction, full_run_fraction)
    possible = max_unique_problems(digits)
    if num_problems < 0:
        raise ValueError(f"num_problems must be >= 0, got {num_problems}")
    if num_problems > possible:
        raise ValueError(
            f"asked for {num_problems} unique problems but only {possible} distinct "
            f"unordered pairs exist with {digits} digit(s)"
        )
    for chain, wanted in enumerate(
        carry_counts(num_problems, digits, carry_fraction), 1
    ):
        available = carries.count_unordered(digits, chain)
        if wanted > available:
            raise ValueError(
                f"carry_fraction {carry_fraction} asks for {wanted} problems with "
                f"longest carry chain {chain} but only {available} exist with "
                f"{digits} digit(s)"
            )
    repeats = round(num_problems * repeat_fraction)
    edge_a, edge_b = edge_cases(digits)
    edge_keys = pair_keys(edge_a, edge_b, digits)
    not_edge = possible - len(np.unique(edge_keys))
    if repeats > not_edge:
        raise ValueError(
            f"repeat_fraction {repeat_fraction} asks for {repeats} problems but "
            f"only {not_edge} are not edge cases"
        )
    # Sparse operands are never 0: the pairs of nonzero operands bound them.
    sparse = round(num_problems * sparse_fraction)
    nonzero = (10**digits - 1) * 10**digits // 2
    edge_nonzero = len(np.unique(edge_keys[(edge_a > 0) & (edge_b > 0)]))
    left = nonzero - edge_nonzero - repeats - round(num_problems * carry_fraction)
    if sparse and sparse > left:
        raise ValueError(
            f"sparse_fraction {sparse_fraction} asks for {sparse} problems but "
            f"only {max(left, 0)} pairs of nonzero operands are left"
        )
    full_runs = round(num_problems * full_run_fraction)
    if not full_runs:  # every Config checks this: count nothing it will not draw
        return
    # The earlier shares may have taken full-run pairs too.
    earlier = round(num_problems * carry_fraction) + repeats + sparse
    left = count_full_runs(digits) - earlier
    if full_runs > left:
        raise ValueError(
            f"full_run_fraction {full_run_fraction} asks for {full_runs} problems "
            f"but only {max(left, 0)} full-run pairs are sure to be left (a "
            "lower bound)"
        )


def generate_problems(
    num_problems: int,
    digits: int,
    seed: int,
    sampling: str = "keras",
    carry_fraction: float = 0.0,
    keras_fraction: float = 0.0,
    repeat_fraction: float = 0.0,
    sparse_fraction: float = 0.0,
    full_run_fraction: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draws ``num_problems`` distinct addition problems.

    ``sampling="keras"`` draws as the Keras example does: each operand gets a
    length drawn uniformly from 1..digits and then that many uniform digits (so
    ``"07"`` is the operand 7). ``sampling="uniform"`` draws each operand
    uniformly from ``[0, 10**digits)``, so most have all ``digits`` digits. A draw
    is dropped when the unordered pair {a, b} was drawn before, so ``a+b`` and
    ``b+a`` never both appear.

    With ``carry_fraction > 0`` that share of the problems is instead built to
    have long carry chains: equally many with each longest chain 1..digits, each
    uniform among the pairs with that chain (``carries.sample_with_chain``).
    With ``repeat_fraction > 0`` that share is built with runs of one digit
    (``sample_with_runs``: ``4444+5555``, ``3+9999``), never an edge case
    (``edge_cases``), so the edge cases stay a test of what was not trained on;
    with ``sparse_fraction > 0`` that share is built with operands mostly zeros
    below their top digit (``sample_sparse``: ``7000+2000``), and with
    ``full_run_fraction > 0`` that share with operands mostly of the longest
    two widths, each a run of one digit over all but one or two columns
    (``sample_full_runs``: ``9999999989+9999999999``), never an edge case
    either. These shares come first; the rest are drawn as ``sampling`` says,
    from a generator of their own, so the default problems are the same
    without them.
    With ``sampling="uniform"`` and ``keras_fraction > 0``, that share of the
    rest is drawn the Keras way, also from a generator of its own, before the
    uniform ones: short operands (``9+1``) that uniform draws almost never give.
    Draws happen in vectorized chunks; the result depends only on the arguments.

    Args:
      num_problems: how many distinct problems to return.
      digits: the largest number of digits of an operand.
      seed: seed of the numpy generators.
      sampling: ``"keras"`` (the Keras distribution) or ``"uniform"``.
      carry_fraction: share of the problems built with long carry chains.
      repeat_fraction: share of the problems built with runs of one digit.
      sparse_fraction: share of the problems built with mostly-zero operands.
      full_run_fraction: share of the problems built with near-full runs.
      keras_fraction: with ``sampling="uniform"``, the share of the problems
        not built for carries or runs that is drawn the Keras way.

    Returns:
      Two int64 arrays ``(a, b)`` of shape ``[num_problems]``, in the order the
      problems were first drawn (later ones lean towards rarer, longer operands:
      shuffle before splitting).

    Raises:
      ValueError: if an argument is out of range or more problems are asked for
        than exist (see ``check_request``).
    """
    check_request(
        num_problems,
        digits,
        sampling,
        carry_fraction,
        repeat_fraction,
        sparse_fraction,
        full_run_fraction,
    )
    a_parts: list[np.ndarray] = []
    b_parts: list[np.ndarray] = []
    seen = pair_keys(np.zeros(0, np.int64), np.zeros(0, np.int64), digits)
    for chain, wanted in enumerate(
        carry_counts(num_problems, digits, carry_fraction), 1
    ):
        chain_rng = np.random.default_rng([seed, 3, chain])

        def draw_chain(n, rng=chain_rng, chain=chain):
            return carries.sample_with_chain(rng, n, digits, chain)

        a, b = draw_unique(draw_chain, wanted, digits, exclude=np.unique(seen))
        a_parts.append(a)
        b_parts.append(b)
        seen = np.concatenate([seen, pair_keys(a, b, digits)])
    # The shares rounded up may ask for a problem more than there is room for.
    edge = pair_keys(*edge_cases(digits), digits)
    for fraction, sampler, stream in (
        (repeat_fraction, sample_with_runs, 5),
        (sparse_fraction, sample_sparse, 6),
        (full_run_fraction, sample_full_runs, 7),
    ):
        wanted = min(round(num_problems * fraction), num_problems - len(seen))
        if not wanted:
            continue
        built_rng = np.random.default_rng([seed, stream])
        a, b = draw_unique(
            lambda n, rng=built_rng, sampler=sampler: sampler(rng, n, digits),
            wanted,
            digits,
            exclude=np.unique(np.concatenate([seen, edge])),
        )
        a_parts.append(a)
        b_parts.append(b)
        seen = np.concatenate([seen, pair_keys(a, b, digits)])

    def draw_keras(rng):
        def draw(n):
            lengths = rng.integers(1, digits + 1, size=(2, n))
            return rng.integers(0, 10**lengths, dtype=np.int64)

        return draw

    rng = np.random.default_rng(seed)
    if sampling == "uniform":
        remaining = num_problems - len(seen)
        num_keras = round(remaining * keras_fraction)
        if num_keras:
            keras_draw = draw_keras(np.random.default_rng([seed, 4]))
            a, b = draw_unique(keras_draw, num_keras, digits, exclude=np.unique(seen))
            a_parts.append(a)
            b_parts.append(b)
            seen = np.concatenate([seen, pair_keys(a, b, digits)])

        def draw(n):
            return rng.integers(0, 10**digits, size=(2, n), dtype=np.int64)

    else:
        draw = draw_keras(rng)

    a, b = draw_unique(draw, num_problems - len(seen), digits, exclude=np.unique(seen))
    return np.concatenate(a_parts + [a]), np.concatenate(b_parts + [b])


def edge_cases(digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Hand-picked problems for ``digits``-digit operands, in both orders.

    0+0; 0 with the maximum; all nines plus all nines (every column carries, but
    each on its own: chain 1) and ``10**k - 1`` plus 1 (chain ``k``) for every
    length ``k``; ``55..5 + 55..5`` (chain 1 in every column); ``44..4 + 55..5``
    (every column sums to 9 but nothing carries: chain 0); ``4999 + 5001``-like
    (one chain through every column, into a round sum); ``1000 + 1000``-like.
    Ordered duplicates (small ``digits``) are dropped, the first kept.
    """
    top = 10**digits - 1
    fives, fours = top * 5 // 9, top * 4 // 9
    half = 5 * 10 ** (digits - 1)
    pairs = [(0, 0), (0, top), (top, 0)]
    for k in range(1, digits + 1):
        nines = 10**k - 1
        pairs += [(nines, nines), (nines, 1), (1, nines)]
    pairs += [
        (fives, fives),
        (fours, fives),
        (fives, fours),
        (half - 1, half + 1),
        (half + 1, half - 1),
        (10 ** (digits - 1), 10 ** (digits - 1)),
    ]
    unique = list(dict.fromkeys(pairs))
    a, b = np.array(unique, np.int64).T
    return a, b


def _digits_into(
    out: np.ndarray, x: np.ndarray, start: np.ndarray, width: int | None = None
) -> None:
    """Writes the decimal digits of ``x[i]`` into ``out[i, start[i]:]``; with a
    ``width``, as ``width`` digits, leading zeros included."""
    length = _num_decimal_digits(x) if width is None else np.full(x.shape, width)
    rows = np.arange(len(x))
    for k in range(int(length.max(initial=0))):
        has_digit = k < length
        power = 10 ** np.maximum(length - 1 - k, 0)
        digit = (x // power) % 10
        out[rows[has_digit], (start + k)[has_digit]] = digit[has_digit]


def encode_queries(
    a: np.ndarray,
    b: np.ndarray,
    digits: int,
    reverse: bool,
    leading_pads: int = 0,
    leading_zeros: bool = False,
) -> np.ndarray:
    """Query ids ``[n, query_len(digits, leading_pads)]`` for ``a[i] + b[i]``.

    ``reverse`` reverses the whole padded query: ``"12+345 "`` becomes
    ``" 543+21"``, so each operand is read units digit first, the order in which
    a carry travels: the encoder reads all of ``b`` (345), then ``a`` (12) column
    by column from the units.
    ``leading_zeros`` writes both operands with ``digits`` digits, so every query
    fills the width and a digit has one place whatever the operands' lengths:
    ``"012+345"``, reversed ``"543+210"``. ``leading_pads`` spaces then go in
    front of any layout.
    """
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ids = np.full((len(a), query_len(digits, leading_pads)), PAD_ID, dtype=np.int32)
    query = ids[:, leading_pads:]
    width = digits if leading_zeros else None
    a_len = _num_decimal_digits(a) if width is None else np.full(len(a), width)
    _digits_into(query, a, np.zeros_like(a_len), width)
    query[np.arange(len(a)), a_len] = PLUS_ID
    _digits_into(query, b, a_len + 1, width)
    if reverse:
        query[:] = query[:, ::-1].copy()
    return ids


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
    sampling: str = "keras",
    carry_fraction: float = 0.0,
    keras_fraction: float = 0.0,
    leading_pads: int = 0,
    repeat_fraction: float = 0.0,
    leading_zeros: bool = False,
    sparse_fraction: float = 0.0,
    full_run_fraction: float = 0.0,
) -> tuple[Split, Split]:
    """Generates, shuffles and splits unique problems into (train, validation).

    The validation split is the last ``floor(num_problems * val_fraction)``
    problems after the shuffle; no pair appears in both. ``sampling``,
    ``carry_fraction``, ``keras_fraction``, ``repeat_fraction``,
    ``sparse_fraction`` and ``full_run_fraction`` are passed to
    ``generate_problems``, ``leading_pads``
    and ``leading_zeros`` to ``encode_queries``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    a, b = generate_problems(
        num_problems,
        digits,
        seed,
        sampling,
        carry_fraction,
        keras_fraction,
        repeat_fraction,
        sparse_fraction,
        full_run_fraction,
    )
    order = np.random.default_rng([seed, 1]).permutation(num_problems)
    a, b = a[order], b[order]
    num_val = int(num_problems * val_fraction)
    split_at = num_problems - num_val

    def split(part: slice) -> Split:
        return encode_split(
            a[part],
            b[part],
            digits,
            reverse,
            reverse_answer,
            leading_pads,
            leading_zeros,
        )

    return split(slice(0, split_at)), split(slice(split_at, None))


def encode_split(
    a: np.ndarray,
    b: np.ndarray,
    digits: int,
    reverse: bool,
    reverse_answer: bool,
    leading_pads: int = 0,
    leading_zeros: bool = False,
) -> Split:
    """The problems ``a[i] + b[i]`` as a ``Split`` in a run's layout."""
    return Split(
        a=a,
        b=b,
        queries=encode_queries(a, b, digits, reverse, leading_pads, leading_zeros),
        answers=encode_answers(a + b, digits, reverse_answer),
    )
