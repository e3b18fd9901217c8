"""Carry chains: measuring them, counting them, and drawing problems that have them.

Definition. Add ``a`` and ``b`` column by column from the units, as on paper.
Column ``i`` (``i = 0`` is the units) *generates* a carry when its two digits sum
to 10 or more, *propagates* one when they sum to exactly 9 (it carries only if
a carry comes in), and *kills* one otherwise. A **carry chain** is a generating
column followed by the propagating columns the carry then runs through; its
length is the number of columns that carry, the generating one included, so a
chain of ``k`` means ``k`` carrying columns and a carry born in the first lands
``k`` positions up. The **longest carry chain** of ``a + b`` is the length of
its longest chain, 0 when no column generates::

    15 + 5          5+5 generates, 1+0 kills                    -> 1
    4999 + 5001     9+1 generates, 9+0 9+0 4+5 propagate        -> 4
    99999 + 1       9+1 generates, four 9+0 propagate           -> 5
    999 + 999       every column generates: three chains of 1  -> 1
    909 + 191       9+1 generates, 0+9 propagates, 9+1 generates -> 2

With operands of at most ``digits`` digits the chain is in ``0..digits``.

Why chains of *propagating* columns rather than any run of carrying columns:
the chain length is how far the digit being written depends on digits below
it. In ``999 + 999`` each column carries whatever comes in, so every answer
digit follows from two columns; in ``4999 + 5001`` the leading ``1`` of
``10000`` depends on the units. It is also what makes long chains rare: under
uniform digits a column generates with probability 45/100 and propagates with
10/100, so a chain of at least ``k`` starting at a given column has probability
``0.45 * 0.1**(k - 1)``, and in a uniform test set of 10-digit problems about
one problem in 44,000 has a longest chain of 6 or more.

``sample_with_chain`` therefore builds problems with a given chain directly
rather than by rejection. It draws ``(a, b)`` *exactly* uniformly among all
ordered pairs in ``[0, 10**digits)`` whose longest chain is ``k``: with uniform
operands the columns are independent, each generating / propagating / killing
with 45 / 10 / 45 digit pairs out of 100, so it draws the sequence of column
kinds conditioned on the longest chain being ``k`` (by counting the ways to
complete each prefix, exactly, in integers), then each column's digits
uniformly among the pairs of its kind.
"""

from __future__ import annotations

import functools

import numpy as np

GENERATE, PROPAGATE, KILL = 0, 1, 2

# Digit pairs (x, y) of one column by kind: x + y >= 10, == 9, <= 8.
_PAIRS = [
    [(x, y) for x in range(10) for y in range(10) if x + y >= 10],
    [(x, y) for x in range(10) for y in range(10) if x + y == 9],
    [(x, y) for x in range(10) for y in range(10) if x + y <= 8],
]
_PAIR_COUNTS = np.array([len(pairs) for pairs in _PAIRS], np.int64)  # 45, 10, 45
_PAIR_TABLE = np.zeros((3, 45, 2), np.int64)
for _kind, _pairs in enumerate(_PAIRS):
    _PAIR_TABLE[_kind, : len(_pairs)] = _pairs

# Ways for a column to be of each kind (GENERATE, PROPAGATE, KILL): ordered
# digit pairs, and a digit added to itself (a == b, for unordered counts).
_ORDERED_WAYS = (45, 10, 45)
_DIAGONAL_WAYS = (5, 0, 5)


def longest_carry_chain(a, b) -> np.ndarray:
    """The longest carry chain of each problem ``a[i] + b[i]`` (see module doc).

    Args:
      a: non-negative integers (array-like, any shape).
      b: non-negative integers, the same shape as ``a``.

    Returns:
      An int64 array of ``a``'s shape: the number of carrying columns in the
      longest chain (a generating column and the propagating ones after it),
      0 when no column generates a carry.
    """
    a = np.array(a, dtype=np.int64, copy=True)
    b = np.array(b, dtype=np.int64, copy=True)
    run = np.zeros(a.shape, np.int64)
    best = np.zeros(a.shape, np.int64)
    # Past the longer operand a column sums 0 + 0: it kills, so no chain goes on.
    while np.any(a) or np.any(b):
        column = a % 10 + b % 10
        run = np.where(column >= 10, 1, np.where((column == 9) & (run > 0), run + 1, 0))
        best = np.maximum(best, run)
        a //= 10
        b //= 10
    return best


def _next_run(run: int, kind: int) -> int:
    """Length of the chain through a column of ``kind`` after a chain of ``run``."""
    if kind == GENERATE:
        return 1
    if kind == PROPAGATE and run > 0:
        return run + 1
    return 0


@functools.cache
def _completions(
    digits: int, chain: int, ways: tuple[int, int, int]
) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Exact counts ``W[i][r][h]`` of ways to fill columns ``i..digits-1``.

    State before column ``i``: the chain through column ``i - 1`` has length
    ``r`` (``0..chain``; 0 when no carry comes in) and ``h`` says whether a chain
    of length ``chain`` has occurred. A way counts when no chain exceeds
    ``chain`` and, by the end, one reached it. ``ways[kind]`` is how many digit
    pairs make a column of that kind. Python ints: counts reach 100**18.
    """
    table = [[[0, 0] for _ in range(chain + 1)] for _ in range(digits + 1)]
    for r in range(chain + 1):
        table[digits][r] = [0, 1]
    for i in range(digits - 1, -1, -1):
        for r in range(chain + 1):
            for h in (0, 1):
                total = 0
                for kind in (GENERATE, PROPAGATE, KILL):
                    after = _next_run(r, kind)
                    if after <= chain:
                        reached = int(h or after == chain)
                        total += ways[kind] * table[i + 1][after][reached]
                table[i][r][h] = total
    return tuple(tuple(tuple(cell) for cell in row) for row in table)


def _check(digits: int, chain: int) -> None:
    if not 0 <= chain <= digits:
        raise ValueError(f"chain must be in 0..{digits}, got {chain}")


def count_ordered(digits: int, chain: int) -> int:
    """Ordered pairs ``(a, b)`` in ``[0, 10**digits)`` with longest chain ``chain``."""
    _check(digits, chain)
    return _completions(digits, chain, _ORDERED_WAYS)[0][0][int(chain == 0)]


def count_unordered(digits: int, chain: int) -> int:
    """Distinct unordered problems {a, b} below ``10**digits`` with that chain.

    Each pair with ``a != b`` is counted twice among ordered pairs and each
    ``a == b`` once, hence ``(ordered + diagonal) / 2``.
    """
    _check(digits, chain)
    diagonal = _completions(digits, chain, _DIAGONAL_WAYS)[0][0][int(chain == 0)]
    return (count_ordered(digits, chain) + diagonal) // 2


@functools.cache
def _kind_probabilities(digits: int, chain: int) -> np.ndarray:
    """``P[i, r, h, kind]``: probability of each column kind, given the state."""
    table = _completions(digits, chain, _ORDERED_WAYS)
    probs = np.zeros((digits, chain + 1, 2, 3))
    for i in range(digits):
        for r in range(chain + 1):
            for h in (0, 1):
                if table[i][r][h] == 0:
                    continue  # a state no problem with this chain passes through
                for kind in (GENERATE, PROPAGATE, KILL):
                    after = _next_run(r, kind)
                    if after <= chain:
                        reached = int(h or after == chain)
                        ways = _ORDERED_WAYS[kind] * table[i + 1][after][reached]
                        probs[i, r, h, kind] = ways / table[i][r][h]
    probs.setflags(write=False)  # cached and shared
    return probs


def sample_with_chain(
    rng: np.random.Generator, num: int, digits: int, chain: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draws ``num`` ordered problems whose longest carry chain is ``chain``.

    Uniform over all ordered pairs ``(a, b)`` in ``[0, 10**digits)`` with that
    chain (see the module docstring); draws may repeat.

    Args:
      rng: the numpy generator to draw from.
      num: number of problems.
      digits: largest number of digits of an operand.
      chain: the longest carry chain every problem must have, in ``0..digits``.

    Returns:
      Two int64 arrays ``(a, b)`` of shape ``[num]``.
    """
    _check(digits, chain)
    probs = _kind_probabilities(digits, chain)
    a = np.zeros(num, np.int64)
    b = np.zeros(num, np.int64)
    run = np.zeros(num, np.int64)
    reached = np.full(num, chain == 0)
    for i in range(digits):
        cumulative = np.cumsum(probs[i, run, reached.astype(np.int64)], axis=-1)
        # Exactly 1 at the end, not a rounding hair under: a draw in [0, 1) then
        # always lands on a kind of positive probability.
        cumulative[:, -1] = 1.0
        kind = (rng.random(num)[:, None] >= cumulative).sum(-1)
        choice = (rng.random(num) * _PAIR_COUNTS[kind]).astype(np.int64)
        pair = _PAIR_TABLE[kind, choice]
        a += pair[:, 0] * 10**i
        b += pair[:, 1] * 10**i
        run = np.where(
            kind == GENERATE, 1, np.where((kind == PROPAGATE) & (run > 0), run + 1, 0)
        )
        reached |= run == chain
    return a, b
