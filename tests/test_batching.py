import numpy as np
import pytest

from sklearn_mistral._batching import deduplicate, group_positions, plan_batches


def test_deduplicate_keeps_first_seen_order():
    unique, inverse = deduplicate(["b", "a", "b", "c", "a"])

    assert unique == ["b", "a", "c"]
    assert inverse.tolist() == [0, 1, 0, 2, 1]


def test_deduplicate_treats_whitespace_as_different():
    unique, _ = deduplicate(["cough", " cough", "cough "])

    assert len(unique) == 3


def test_group_positions_lists_rows_of_each_text():
    _, inverse = deduplicate(["x", "y", "x", "x"])
    order, starts = group_positions(inverse, 2)

    assert order[starts[0] : starts[1]].tolist() == [0, 2, 3]
    assert order[starts[1] : starts[2]].tolist() == [1]


@pytest.mark.parametrize("seed", range(5))
def test_plan_batches_respects_both_limits(seed):
    rng = np.random.default_rng(seed)
    n_tokens = rng.integers(3, 3000, size=700)

    batches = plan_batches(n_tokens, max_inputs=50, max_tokens=16384)

    assert np.concatenate(batches).tolist() == list(range(700))
    for batch in batches:
        assert len(batch) <= 50
        assert n_tokens[batch].sum() <= 16384


def test_plan_batches_reaches_lower_bound_on_small_items():
    n_tokens = np.full(1153, 45)

    batches = plan_batches(n_tokens, max_inputs=128, max_tokens=16384)

    assert len(batches) == -(-1153 // 128)


def test_plan_batches_evens_out_batch_sizes():
    batches = plan_batches(np.full(257, 10), max_inputs=128, max_tokens=16384)

    assert [len(batch) for batch in batches] == [86, 86, 85]


def test_plan_batches_token_budget_binds():
    batches = plan_batches(np.full(10, 5000), max_inputs=128, max_tokens=16384)

    assert len(batches) == 4
    assert max(len(batch) for batch in batches) == 3


def test_plan_batches_empty():
    assert plan_batches([], max_inputs=10, max_tokens=100) == []


def test_plan_batches_rejects_item_over_budget():
    with pytest.raises(ValueError, match="cannot fit"):
        plan_batches([10, 200], max_inputs=10, max_tokens=100)
