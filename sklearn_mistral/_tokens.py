"""Count and truncate tokens the way the Mistral embeddings API bills them.

mistral-embed bills ``len(v1_tokens) + 2`` per input (BOS and EOS) with Mistral's v1
SentencePiece tokenizer; codestral-embed bills the same way with the tekken tokenizer.
Both tokenizer files ship inside the ``mistral-common`` package, so nothing is
downloaded. When the files or ``sentencepiece`` cannot be loaded, counts fall back to
the UTF-8 byte length plus 2, an upper bound: v1's byte fallback and tekken's byte-level
BPE never produce more than one token per byte.
"""

import functools
import logging
import os

import numpy as np

__all__ = ["TokenCounter", "get_token_counter"]

logger = logging.getLogger("sklearn_mistral")

# Tokens added to every input: BOS and EOS. Reproduces the usage figures of
# Mistral's embeddings docs (["Embed this sentence.", "As well as this one."] bills 15).
N_SPECIAL_TOKENS = 2

_V1_FILE = "tokenizer.model.v1"
_TEKKEN_FILE = "tekken_240718.json"
_TEKKEN_MODELS = ("codestral-embed",)


class TokenCounter:
    """Counts billed tokens per text and truncates texts to a token budget.

    Parameters
    ----------
    encode : callable or None
        Maps a list of texts to a list of token id lists, without special tokens.
        ``None`` selects the byte-length upper bound.
    decode : callable or None
        Maps a list of token ids back to text; needed only for truncation.
    name : str
        The tokenizer's name, for logs and error messages.
    """

    def __init__(self, encode=None, decode=None, name="utf-8 byte bound"):
        self._encode = encode
        self._decode = decode
        self.name = name

    @property
    def exact(self):
        """Whether counts are Mistral's billed counts rather than an upper bound."""
        return self._encode is not None

    def count(self, texts):
        """Return the billed tokens of each text as an int64 array."""
        if not texts:
            return np.zeros(0, dtype=np.int64)

        if self._encode is None:
            n_bytes = [len(text.encode("utf-8")) for text in texts]
            return np.asarray(n_bytes, dtype=np.int64) + N_SPECIAL_TOKENS

        lengths = [len(ids) for ids in self._encode(list(texts))]
        return np.asarray(lengths, dtype=np.int64) + N_SPECIAL_TOKENS

    def truncate(self, text, max_tokens):
        """Return the longest prefix of ``text`` that bills at most ``max_tokens``."""
        budget = max_tokens - N_SPECIAL_TOKENS
        if self._encode is None:
            # Cut at a byte budget, then drop a partly cut UTF-8 sequence.
            return text.encode("utf-8")[:budget].decode("utf-8", errors="ignore")

        ids = self._encode([text])[0]
        if len(ids) <= budget:
            return text
        prefix = self._decode(ids[:budget])

        # Decoding can merge pieces into a different tokenization; trim until it fits.
        while len(self._encode([prefix])[0]) > budget:
            ids = ids[: budget - 1]
            budget -= 1
            prefix = self._decode(ids)
        return prefix


def _data_path(filename):
    import mistral_common

    return os.path.join(os.path.dirname(mistral_common.__file__), "data", filename)


def _load_v1():
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=_data_path(_V1_FILE))
    return TokenCounter(processor.encode, processor.decode, name="mistral v1")


def _load_tekken():
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer

    tokenizer = Tekkenizer.from_file(_data_path(_TEKKEN_FILE))

    def encode(texts):
        return [tokenizer.encode(text, bos=False, eos=False) for text in texts]

    return TokenCounter(encode, tokenizer.decode, name="mistral tekken")


@functools.lru_cache(maxsize=None)
def get_token_counter(model):
    """Return the process-wide token counter for ``model``.

    Models other than mistral-embed and codestral-embed are counted with the v1
    tokenizer; their counts may differ from what their server bills.
    """
    family = "tekken" if model.startswith(_TEKKEN_MODELS) else "v1"
    loader = _load_tekken if family == "tekken" else _load_v1
    try:
        return loader()
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        logger.warning(
            "Mistral's %s tokenizer is unavailable (%s); token counts use the UTF-8 "
            "byte length + 2, an upper bound that packs batches more loosely. "
            "Install mistral-common[sentencepiece] for exact counts.",
            family,
            exc,
        )
        return TokenCounter()
