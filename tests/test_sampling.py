"""Carry chains, and the seed / uniform / carry-oversampled problem distributions."""

import re
import subprocess
import sys

import numpy as np
import pytest

from jaxadd import carries, data
from jaxadd import train as train_lib
from jaxadd.config import Config


def unordered(a, b):
    return set(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist()))


def chain_by_hand(a: int, b: int) -> int:
    """Column addition as on paper: a column summing to 10+ starts a chain, one
    summing to 9 carries it on, anything else ends it."""
    best = run = 0
    while a or b:
        column = a % 10 + b % 10
        run = 1 if column >= 10 else run + 1 if column == 9 and run else 0
        best = max(best, run)
        a, b = a // 10, b // 10
    return best


@pytest.mark.parametrize(
    "a,b,chain",
    [
        (0, 0, 0),
        (123, 456, 0),
        (4444, 5555, 0),  # every column sums to 9, but no carry comes in
        (15, 5, 1),
        (4999, 5001, 4),
        (99999, 1, 5),
        (1, 99999, 5),
        (4445, 5555, 4),
        (505, 505, 1),  # two chains of one
        (999, 999, 1),  # every column carries, each on its own
        (909, 191, 2),  # 9+1 starts, 0+9 carries on, 9+1 starts anew
        (10**17, 9 * 10**17, 1),
        (10**18 - 1, 1, 18),
    ],
)
def test_longest_carry_chain_examples(a, b, chain):
    assert carries.longest_carry_chain([a], [b]).tolist() == [chain]
    assert chain_by_hand(a, b) == chain


def test_longest_carry_chain_matches_column_addition():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 13, size=(2, 2000))
    a, b = rng.integers(0, 10**lengths, dtype=np.int64)
    expected = [chain_by_hand(x, y) for x, y in zip(a.tolist(), b.tolist())]
    assert carries.longest_carry_chain(a, b).tolist() == expected


@pytest.mark.parametrize("digits", [1, 2, 3])
def test_chain_counts_match_enumeration(digits):
    n = 10**digits
    a, b = np.divmod(np.arange(n * n, dtype=np.int64), n)
    chains = carries.longest_carry_chain(a, b)
    ordered = np.bincount(chains, minlength=digits + 1)
    lower = np.bincount(chains[a <= b], minlength=digits + 1)
    for k in range(digits + 1):
        assert carries.count_ordered(digits, k) == ordered[k]
        assert carries.count_unordered(digits, k) == lower[k]
    total = sum(carries.count_unordered(digits, k) for k in range(digits + 1))
    assert total == data.max_unique_problems(digits)


@pytest.mark.parametrize("digits", [1, 3, 10, 18])
def test_sample_with_chain_has_exactly_that_chain(digits):
    rng = np.random.default_rng(1)
    for chain in range(digits + 1):
        a, b = carries.sample_with_chain(rng, 500, digits, chain)
        assert (carries.longest_carry_chain(a, b) == chain).all()
        assert a.min() >= 0 and b.min() >= 0
        assert a.max() < 10**digits and b.max() < 10**digits


def test_sample_with_chain_is_uniform_over_its_bucket():
    # 2 digits, chain 1: 6,525 ordered pairs, 100 draws each on average; a
    # uniform draw keeps every count within a few standard deviations (10).
    rng = np.random.default_rng(2)
    a, b = carries.sample_with_chain(rng, 652_500, 2, 1)
    counts = np.bincount(a * 100 + b, minlength=10**4)
    hit = counts[counts > 0]
    assert len(hit) == carries.count_ordered(2, 1)
    assert 50 < hit.min() and hit.max() < 150
    assert hit.std() == pytest.approx(10, rel=0.1)


def test_default_sampling_is_unchanged():
    # The problems the seed's runs trained on (recorded before sampling options
    # existed): the same seed must still give the same problems.
    a, b = data.generate_problems(1000, 3, seed=0)
    a2, b2 = data.generate_problems(1000, 3, 0, sampling="keras", carry_fraction=0.0)
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    assert (a[:4].tolist(), b[:4].tolist()) == ([822, 17, 33, 5], [80, 6, 6, 878])


def test_uniform_sampling_range_uniqueness_determinism():
    a, b = data.generate_problems(20_000, 6, seed=5, sampling="uniform")
    assert len(unordered(a, b)) == 20_000
    assert min(a.min(), b.min()) >= 0 and max(a.max(), b.max()) < 10**6
    # Uniform over [0, 10**6): 90% of operands have all six digits (seed: 15%).
    assert np.mean(a >= 10**5) == pytest.approx(0.9, abs=0.01)
    a2, b2 = data.generate_problems(20_000, 6, seed=5, sampling="uniform")
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    a3, _ = data.generate_problems(20_000, 6, seed=6, sampling="uniform")
    assert not np.array_equal(a, a3)


def test_uniform_sampling_can_draw_every_pair_and_no_more():
    a, b = data.generate_problems(5050, 2, seed=0, sampling="uniform")
    assert len(unordered(a, b)) == 5050
    with pytest.raises(ValueError, match="5051.*5050"):
        data.generate_problems(5051, 2, seed=0, sampling="uniform")


@pytest.mark.parametrize("sampling", ["keras", "uniform"])
def test_carry_oversampling_yields_long_chains(sampling):
    digits, n = 10, 4000
    plain = carries.longest_carry_chain(*data.generate_problems(n, digits, 3, sampling))
    a, b = data.generate_problems(n, digits, 3, sampling, carry_fraction=0.5)
    assert len(unordered(a, b)) == n
    chains = carries.longest_carry_chain(a, b)
    # 2,000 built problems, 200 for each chain 1..10: at least that many per chain.
    counts = np.bincount(chains, minlength=digits + 1)
    assert (counts[1:] >= 200).all()
    assert np.sum(chains >= 6) >= 1000 and np.sum(plain >= 6) < 20
    again = data.generate_problems(n, digits, 3, sampling, carry_fraction=0.5)
    np.testing.assert_array_equal(a, again[0])
    np.testing.assert_array_equal(b, again[1])


def test_carry_oversampling_in_splits_and_config():
    train, val = data.make_splits(
        num_problems=2000,
        digits=4,
        reverse=True,
        val_fraction=0.1,
        seed=0,
        reverse_answer=False,
        sampling="uniform",
        carry_fraction=1.0,
    )
    chains = carries.longest_carry_chain(
        np.concatenate([train.a, val.a]), np.concatenate([train.b, val.b])
    )
    assert np.bincount(chains, minlength=5).tolist() == [0, 500, 500, 500, 500]
    Config(digits=4, sampling="uniform", carry_fraction=1.0).validate()


def test_a_keras_share_brings_short_operands_into_uniform_problems():
    digits, n = 5, 20_000
    plain = data.generate_problems(n, digits, 7, "uniform")
    again = data.generate_problems(n, digits, 7, "uniform", keras_fraction=0.0)
    np.testing.assert_array_equal(plain[0], again[0])  # 0 changes nothing
    a, b = data.generate_problems(n, digits, 7, "uniform", keras_fraction=0.2)
    assert len(unordered(a, b)) == n
    one_digit = np.minimum(a, b) < 10
    # Keras lengths: 1 digit with probability 1/5 per operand, so about
    # 0.2 * (1 - 0.8**2) = 7% of the problems; uniform operands: 0.002%.
    assert np.mean(one_digit) == pytest.approx(0.2 * 0.36, abs=0.01)
    assert np.mean(np.minimum(*plain) < 10) < 0.001
    # The rest stays uniform: most operands have all five digits.
    assert np.mean(np.minimum(a, b) >= 10**4) > 0.6
    twice = data.generate_problems(n, digits, 7, "uniform", keras_fraction=0.2)
    np.testing.assert_array_equal(a, twice[0])
    np.testing.assert_array_equal(b, twice[1])


def longest_run(x: np.ndarray) -> np.ndarray:
    """Length of the longest run of one digit in each number's decimal string."""
    return np.array(
        [max(len(m.group()) for m in re.finditer(r"(.)\1*", str(v))) for v in x]
    )


def test_sample_with_runs_puts_one_digit_in_the_same_columns():
    digits, n = 10, 4000
    a, b = data.sample_with_runs(np.random.default_rng(0), n, digits)
    assert min(a.min(), b.min()) >= 0 and max(a.max(), b.max()) < 10**digits
    full_width_runs = (a >= 10**9) & (longest_run(a) >= 8)
    # Long runs: 10-digit operands with 8 or more of one digit in a row (a
    # uniform 10-digit number has one with probability about 3e-6).
    assert 0.01 < np.mean(full_width_runs) < 0.1
    # A short operand against a run of nines (1+9999), both orders counted.
    short_vs_nines = (np.minimum(a, b) < 10) & (
        np.char.count(np.maximum(a, b).astype(str), "9999") > 0
    )
    assert short_vs_nines.sum() >= 20


def test_a_repeat_share_comes_first_and_leaves_the_edge_cases_out():
    digits, n = 4, 20_000
    plain = data.generate_problems(n, digits, 1, "keras", carry_fraction=0.1)
    again = data.generate_problems(
        n, digits, 1, "keras", carry_fraction=0.1, repeat_fraction=0.0
    )
    np.testing.assert_array_equal(plain[0], again[0])  # 0 changes nothing
    a, b = data.generate_problems(
        n, digits, 1, "keras", carry_fraction=0.1, repeat_fraction=0.5
    )
    assert len(unordered(a, b)) == n
    np.testing.assert_array_equal(a[:2000], plain[0][:2000])  # the carry share
    runs = slice(2000, 12_000)
    assert np.mean(longest_run(a[runs]) >= 3) > 3 * np.mean(
        longest_run(a[12_000:]) >= 3
    )
    edge = unordered(*data.edge_cases(digits))
    assert not edge & unordered(a[runs], b[runs])
    twice = data.generate_problems(
        n, digits, 1, "keras", carry_fraction=0.1, repeat_fraction=0.5
    )
    np.testing.assert_array_equal(a, twice[0])
    np.testing.assert_array_equal(b, twice[1])
    train, _ = train_lib.make_splits(
        Config(
            digits=digits,
            training_size=n,
            carry_fraction=0.1,
            repeat_fraction=0.5,
            seed=1,
        )
    )
    assert unordered(train.a, train.b) <= unordered(a, b)


def test_sample_sparse_puts_zeros_below_the_top_digit():
    digits, n = 10, 20_000
    a, b = data.sample_sparse(np.random.default_rng(0), n, digits)
    assert min(a.min(), b.min()) >= 1 and max(a.max(), b.max()) < 10**digits
    top = 10 ** (digits - 1)
    # Two 10-digit operands with only zeros below the top digit: about 1 in
    # 1,900 (both full length 1/100, all 18 lower digits zero 1/19); a uniform
    # pair has them with probability 1e-18.
    round_pairs = (a >= top) & (b >= top) & (a % top == 0) & (b % top == 0)
    assert 3 <= round_pairs.sum() <= 30
    # Both operands are dense or sparse together (one chance per problem).
    zeros_a = np.char.count(a.astype(str), "0")
    zeros_b = np.char.count(b.astype(str), "0")
    full = (a >= top) & (b >= top)
    assert np.corrcoef(zeros_a[full], zeros_b[full])[0, 1] > 0.5


def test_a_sparse_share_comes_after_the_runs_and_leaves_the_edge_cases_out():
    digits, n = 4, 20_000
    shares = {"carry_fraction": 0.1, "repeat_fraction": 0.2}
    plain = data.generate_problems(n, digits, 1, "keras", **shares)
    again = data.generate_problems(n, digits, 1, "keras", **shares, sparse_fraction=0)
    np.testing.assert_array_equal(plain[0], again[0])  # 0 changes nothing
    a, b = data.generate_problems(n, digits, 1, "keras", **shares, sparse_fraction=0.3)
    assert len(unordered(a, b)) == n
    np.testing.assert_array_equal(a[:6000], plain[0][:6000])  # carry and runs
    sparse = slice(6000, 12_000)
    assert min(a[sparse].min(), b[sparse].min()) >= 1
    zeros = np.char.count(a.astype(str), "0") / np.char.str_len(a.astype(str))
    assert zeros[sparse].mean() > 2 * zeros[12_000:].mean()
    edge = unordered(*data.edge_cases(digits))
    assert not edge & unordered(a[sparse], b[sparse])
    train, _ = train_lib.make_splits(
        Config(digits=digits, training_size=n, seed=1, sparse_fraction=0.3, **shares)
    )
    assert unordered(train.a, train.b) <= unordered(a, b)
    # One digit: 39 pairs of nonzero operands are not edge cases, all drawable.
    assert len(unordered(*data.generate_problems(39, 1, 0, sparse_fraction=1.0))) == 39


def _near_all_nines(a: np.ndarray, b: np.ndarray, width: int) -> np.ndarray:
    """Both operands ``width`` digits, nines in both in all but at most two columns."""
    wide = (a >= 10 ** (width - 1)) & (b >= 10 ** (width - 1))
    wide &= (a < 10**width) & (b < 10**width)
    nines = sum((a // 10**c % 10 == 9) & (b // 10**c % 10 == 9) for c in range(width))
    return wide & (nines >= width - 2)


def test_full_runs_are_neighbours_of_the_all_nines_that_runs_almost_never_give():
    digits, n = 10, 100_000
    a, b = data.sample_full_runs(np.random.default_rng(0), n, digits)
    assert min(a.min(), b.min()) >= 1 and max(a.max(), b.max()) < 10**digits
    # Width 10 (1/2), run digits 9 and 9 (1/81), tops nonzero (about 0.9):
    # about 550 at each of the two widths.
    assert 400 <= _near_all_nines(a, b, digits).sum() <= 800
    assert 400 <= _near_all_nines(a, b, digits - 1).sum() <= 800
    runs = data.sample_with_runs(np.random.default_rng(0), n, digits)
    assert _near_all_nines(*runs, digits).sum() <= 10
    # Some width - 2 columns hold one digit in a and one in b, the same columns.
    columns = [(a // 10**c % 10, b // 10**c % 10) for c in range(digits)]
    found = np.zeros(n, bool)
    for width in (digits - 1, digits):
        for start in range(3):
            window = columns[start : start + width - 2]
            found |= np.all(
                [(x == window[0][0]) & (y == window[0][1]) for x, y in window], 0
            )
    assert found.all()
    # A full run (8888888888+9999999999) only where the free digits match.
    repunit = (10**digits - 1) // 9
    assert ((a % repunit == 0) & (b % repunit == 0)).mean() < 0.02


def test_a_full_run_share_comes_last_of_the_built_and_leaves_the_edge_cases_out():
    digits, n = 4, 20_000
    shares = {"carry_fraction": 0.1, "repeat_fraction": 0.1, "sparse_fraction": 0.1}
    plain = data.generate_problems(n, digits, 1, "keras", **shares)
    again = data.generate_problems(n, digits, 1, "keras", **shares, full_run_fraction=0)
    np.testing.assert_array_equal(plain, again)  # 0 changes nothing
    a, b = data.generate_problems(
        n, digits, 1, "keras", **shares, full_run_fraction=0.2
    )
    assert len(unordered(a, b)) == n
    np.testing.assert_array_equal(a[:6000], plain[0][:6000])  # the earlier shares
    built = slice(6000, 10_000)
    assert min(a[built].min(), b[built].min()) >= 1
    edge = unordered(*data.edge_cases(digits))
    assert not edge & unordered(a[built], b[built])
    train, _ = train_lib.make_splits(
        Config(digits=digits, training_size=n, seed=1, full_run_fraction=0.2, **shares)
    )
    assert unordered(train.a, train.b) <= unordered(a, b)
    # One digit: 39 pairs of nonzero digits are not edge cases, all drawable.
    one = data.generate_problems(39, 1, 0, full_run_fraction=1.0)
    assert len(unordered(*one)) == 39
    # A share of 0 is never refused, however many the other shares take.
    data.check_request(1_500_000, 10, "uniform", 0.2, 0.1)


@pytest.mark.parametrize("digits", [2, 3])
def test_count_full_runs_is_what_the_sampler_reaches_or_a_lower_bound(digits):
    keys = []
    for seed in range(4):
        a, b = data.sample_full_runs(np.random.default_rng(seed), 2_000_000, digits)
        keys.append(np.unique(data.pair_keys(a, b, digits)))
    keys = np.unique(np.concatenate(keys))
    edge = data.pair_keys(*data.edge_cases(digits), digits)
    drawn = len(keys) - np.isin(keys, edge).sum()
    if digits == 2:  # exact: 8 million draws reach every pair
        assert drawn == data.count_full_runs(2) == 4861
    else:  # 8 million draws reach more pairs than the bound
        assert drawn >= data.count_full_runs(3) > 400_000


def test_carry_request_larger_than_a_bucket_is_refused():
    # One digit: 25 unordered problems carry (a + b >= 10).
    data.generate_problems(50, 1, 0, carry_fraction=0.5)
    with pytest.raises(ValueError, match="45 problems with longest carry chain 1"):
        data.generate_problems(50, 1, 0, carry_fraction=0.9)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"sampling": "gaussian"}, "sampling must be one of keras, uniform"),
        ({"carry_fraction": 1.5}, "carry_fraction must be in"),
        ({"carry_fraction": float("nan")}, "carry_fraction must be in"),
        ({"keras_fraction": 0.2}, "keras_fraction needs --sampling=uniform"),
        ({"repeat_fraction": -0.1}, "repeat_fraction must be in"),
        ({"carry_fraction": 0.5, "repeat_fraction": 0.6}, "repeat_fraction must"),
        ({"repeat_fraction": float("nan")}, "repeat_fraction must be in"),
        ({"sparse_fraction": -0.1}, "sparse_fraction must be in"),
        ({"repeat_fraction": 0.5, "sparse_fraction": 0.6}, "sparse_fraction must"),
        ({"sparse_fraction": float("nan")}, "sparse_fraction must be in"),
        ({"full_run_fraction": -0.1}, "full_run_fraction must be in"),
        ({"sparse_fraction": 0.5, "full_run_fraction": 0.6}, "full_run_fraction"),
        ({"full_run_fraction": float("nan")}, "full_run_fraction must be in"),
        (
            {"digits": 1, "training_size": 40, "full_run_fraction": 1.0},
            "asks for 40 problems but only 39 full-run pairs",
        ),
        (
            {"digits": 1, "training_size": 40, "sparse_fraction": 1.0},
            "asks for 40 problems but only 39 pairs of nonzero operands",
        ),
        (
            {"digits": 1, "training_size": 55, "repeat_fraction": 1.0},
            "asks for 55 problems but only 47 are not edge cases",
        ),
        ({"sampling": "uniform", "keras_fraction": -0.1}, "keras_fraction must be"),
        (
            {"digits": 1, "training_size": 50, "carry_fraction": 0.9},
            "only 25 exist",
        ),
    ],
)
def test_config_refuses_bad_sampling(changes, message):
    with pytest.raises(ValueError, match=message):
        Config(**changes).validate()


@pytest.mark.parametrize(
    "flag,message",
    [
        ("--sampling=gaussian", "sampling"),
        ("--carry_fraction=2", "carry_fraction must be in [0, 1]"),
    ],
)
def test_bad_sampling_flag_exits_with_one_clear_line(flag, message):
    result = subprocess.run(
        [sys.executable, "-m", "jaxadd.main", flag],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
