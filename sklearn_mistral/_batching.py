"""Pure functions that decide what is sent: deduplication and batch planning."""

import numpy as np

__all__ = ["deduplicate", "group_positions", "plan_batches"]


def deduplicate(texts):
    """Return the distinct texts in first-seen order and each input's distinct id.

    Returns
    -------
    unique : list of str
    inverse : ndarray of int64, shape (len(texts),)
        ``unique[inverse[i]] == texts[i]``.
    """
    unique = list(dict.fromkeys(texts))
    if len(unique) == len(texts):
        # The common case, with no duplicates, needs no per-text work in Python.
        return unique, np.arange(len(texts), dtype=np.int64)

    ids = {text: i for i, text in enumerate(unique)}
    inverse = np.fromiter(map(ids.__getitem__, texts), dtype=np.int64, count=len(texts))
    return unique, inverse


def group_positions(inverse, n_unique):
    """Return, for each distinct id, the input positions that hold that text.

    The result is ``(order, starts)``: the positions of id ``j`` are
    ``order[starts[j]:starts[j + 1]]``. Lets each vector be written straight into
    every output row that needs it, without a second output-sized array.
    """
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=n_unique)
    starts = np.zeros(n_unique + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return order, starts


def plan_batches(n_tokens, max_inputs, max_tokens):
    """Split items into consecutive batches under both request limits.

    Parameters
    ----------
    n_tokens : array-like of int
        Billed tokens of each item; each must be at most ``max_tokens``.
    max_inputs : int
        Maximum number of items in one batch.
    max_tokens : int
        Maximum sum of ``n_tokens`` in one batch.

    Returns
    -------
    batches : list of ndarray of int64
        Item positions per batch, covering ``0 .. len(n_tokens) - 1`` in order.

    Notes
    -----
    Greedy packing in input order uses at most one batch more than the lower
    bound ``max(ceil(n / max_inputs), ceil(sum / max_tokens))`` whenever items are
    small against ``max_tokens``. The batches are then evened out at the same
    count, so concurrent requests finish at about the same time.
    """
    n_tokens = np.asarray(n_tokens, dtype=np.int64)
    if n_tokens.size == 0:
        return []
    if n_tokens.max() > max_tokens:
        raise ValueError(f"an item of {n_tokens.max()} tokens cannot fit a budget of {max_tokens} tokens")

    greedy = _pack(n_tokens, max_inputs, max_tokens)
    n_batches = len(greedy)

    # Try tighter caps that spread the same work over the same number of batches:
    # both caps evened out, else only one of them. When the inputs cap binds, an even
    # token cap would close some batches early and add one.
    even_inputs = min(max_inputs, -(-n_tokens.size // n_batches))
    # One item of slack keeps a batch from closing just short of its even share.
    even_tokens = min(max_tokens, -(-int(n_tokens.sum()) // n_batches) + int(n_tokens.max()))
    for caps in ((even_inputs, even_tokens), (even_inputs, max_tokens), (max_inputs, even_tokens)):
        even = _pack(n_tokens, *caps)
        if len(even) == n_batches:
            return even
    return greedy


def _pack(n_tokens, max_inputs, max_tokens):
    """Fill batches in order, closing one when the next item would break a limit."""
    # Cumulative sums let each batch end be found by binary search instead of a
    # Python loop over items, which matters at 10^6 texts.
    cumulative = np.concatenate(([0], np.cumsum(n_tokens)))
    batches = []
    start = 0
    while start < n_tokens.size:
        end_by_tokens = int(np.searchsorted(cumulative, cumulative[start] + max_tokens, side="right")) - 1
        end = max(start + 1, min(start + max_inputs, end_by_tokens))
        batches.append(np.arange(start, end, dtype=np.int64))
        start = end
    return batches
