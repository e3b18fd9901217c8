"""Problem generation, layout and encoding."""

import numpy as np
import pytest

from jaxadd import data


def unordered(a, b):
    return set(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist()))


@pytest.mark.parametrize("num_problems,digits", [(50_000, 3), (2_000, 5), (300, 10)])
def test_problems_are_unique_including_commutative_pairs(num_problems, digits):
    a, b = data.generate_problems(num_problems, digits, seed=0)
    assert len(a) == len(b) == num_problems
    assert len(unordered(a, b)) == num_problems
    assert a.min() >= 0 and b.min() >= 0
    assert a.max() < 10**digits and b.max() < 10**digits


def test_operand_lengths_follow_the_keras_distribution():
    # Length uniform in 1..6, then uniform digits (leading zeros allowed), so an
    # operand has all six digits with probability 1/6 * 0.9. Long operands almost
    # never collide, so deduplication barely moves that share (short ones it does:
    # only 55 one-digit pairs exist).
    a, _ = data.generate_problems(30_000, 6, seed=1)
    assert np.mean(a >= 10**5) == pytest.approx(0.9 / 6, abs=0.01)
    # A uniform draw over [0, 10**6) would put 90% there instead.


def test_generation_is_deterministic_and_seed_dependent():
    a1, b1 = data.generate_problems(1000, 4, seed=7)
    a2, b2 = data.generate_problems(1000, 4, seed=7)
    a3, _ = data.generate_problems(1000, 4, seed=8)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(a1, a3)


def test_every_possible_pair_can_be_drawn():
    a, b = data.generate_problems(55, 1, seed=0)
    assert unordered(a, b) == {(x, y) for x in range(10) for y in range(x, 10)}
    a, b = data.generate_problems(5_000, 2, seed=0)  # 5,000 of the 5,050 pairs
    assert len(unordered(a, b)) == 5_000


@pytest.mark.parametrize("digits,possible", [(1, 55), (2, 5050)])
def test_impossible_request_names_both_numbers(digits, possible):
    with pytest.raises(ValueError, match=rf"{possible + 1}.*{possible}"):
        data.generate_problems(possible + 1, digits, seed=0)


def test_query_padding_and_reversal_match_the_seed_layout():
    a, b = np.array([12, 0, 999, 535]), np.array([345, 7, 999, 61])
    assert data.decode(data.encode_queries(a, b, 3, reverse=False)) == [
        "12+345 ",
        "0+7    ",
        "999+999",
        "535+61 ",
    ]
    assert data.decode(data.encode_queries(a, b, 3, reverse=True)) == [
        " 543+21",
        "    7+0",
        "999+999",
        " 16+535",
    ]
    assert data.decode(
        data.encode_queries(np.array([12]), np.array([345]), 4, True)
    ) == ["   543+21"]


def test_leading_pads_go_in_front_of_either_layout():
    a, b = np.array([12, 999]), np.array([345, 999])
    assert data.query_len(3, leading_pads=2) == 9
    assert data.decode(data.encode_queries(a, b, 3, True, leading_pads=2)) == [
        "   543+21",
        "  999+999",
    ]
    assert data.decode(data.encode_queries(a, b, 3, False, leading_pads=2)) == [
        "  12+345 ",
        "  999+999",
    ]
    train, _ = data.make_splits(100, 3, True, 0.1, seed=0, leading_pads=1)
    assert train.queries.shape == (90, 8)
    assert (train.queries[:, 0] == data.PAD_ID).all()
    no_pads, _ = data.make_splits(100, 3, True, 0.1, seed=0)
    np.testing.assert_array_equal(train.queries[:, 1:], no_pads.queries)


def test_leading_zeros_give_every_digit_one_place():
    a, b = np.array([12, 0, 999]), np.array([345, 7, 999])
    assert data.decode(data.encode_queries(a, b, 3, True, leading_zeros=True)) == [
        "543+210",
        "700+000",
        "999+999",
    ]
    assert data.decode(
        data.encode_queries(a, b, 3, False, leading_pads=2, leading_zeros=True)
    ) == ["  012+345", "  000+007", "  999+999"]
    train, _ = data.make_splits(100, 3, True, 0.1, seed=0, leading_zeros=True)
    plain, _ = data.make_splits(100, 3, True, 0.1, seed=0)
    assert (train.queries != data.PAD_ID).all()  # every query fills the width
    np.testing.assert_array_equal(train.answers, plain.answers)
    assert (train.queries != plain.queries).any()


def test_answers_are_padded_sums():
    sums = np.array([357, 0, 1998, 10])
    assert data.decode(data.encode_answers(sums, 3)) == ["357 ", "0   ", "1998", "10  "]
    assert data.decode(data.encode_answers(sums, 3, reverse_answer=True)) == [
        "753 ",
        "0   ",
        "8991",
        "01  ",
    ]


def test_encoded_answers_are_correct_sums_for_many_problems():
    a, b = data.generate_problems(5_000, 6, seed=3)
    texts = data.decode(data.encode_answers(a + b, 6))
    assert [int(t) for t in texts] == (a + b).tolist()
    queries = data.decode(data.encode_queries(a, b, 6, reverse=False))
    assert [q.strip() for q in queries] == [f"{x}+{y}" for x, y in zip(a, b)]


def test_encode_decode_round_trip():
    texts = ["12+345 ", "0+0    ", "999+999"]
    assert data.decode(data.encode_strings(texts, 7)) == texts
    assert data.decode(data.encode_strings(["1+2"], 7)) == ["1+2    "]
    with pytest.raises(ValueError, match="'-'"):
        data.encode_strings(["1-2"], 7)
    with pytest.raises(ValueError, match="longer"):
        data.encode_strings(["1234+5678"], 7)


def test_one_hot_matches_ids():
    ids = data.encode_strings(["1+2"], 7)
    hot = np.asarray(data.one_hot(ids))
    assert hot.shape == (1, 7, data.VOCAB_SIZE)
    np.testing.assert_array_equal(hot.argmax(-1), ids)
    np.testing.assert_array_equal(hot.sum(-1), 1.0)


def test_validation_split_is_disjoint_and_sized():
    train, val = data.make_splits(
        num_problems=10_000, digits=3, reverse=True, val_fraction=0.1, seed=0
    )
    assert (len(train), len(val)) == (9_000, 1_000)
    assert not unordered(train.a, train.b) & unordered(val.a, val.b)
    np.testing.assert_array_equal(
        val.queries, data.encode_queries(val.a, val.b, 3, reverse=True)
    )
