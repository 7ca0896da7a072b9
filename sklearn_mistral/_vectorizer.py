"""The scikit-learn face of the package: ``MistralEmbeddingVectorizer``."""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, Options, StrOptions

from ._embed import EmbeddingSettings, embed_texts, n_features_of
from ._estimate import estimate_cost
from ._validation import check_base_url, check_texts

__all__ = ["MistralEmbeddingVectorizer"]

_OUTPUT_DTYPES = {"float", "int8", "uint8", "binary", "ubinary"}


class MistralEmbeddingVectorizer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Embed a column of texts with the Mistral embeddings API.

    Each distinct text is sent once, in batches that respect the API's limits on inputs
    and tokens per request, several requests at a time. Every vector is stored on disk
    as soon as its batch returns, so repeated texts, reruns, cross-validation folds and
    grid searches pay for each text once, and a crashed run resumes where it stopped.

    ``fit`` only validates; the estimator is stateless and ``transform`` works unfitted.

    Parameters
    ----------
    model : str, default="mistral-embed"
        Embedding model. ``"mistral-embed"`` gives 1024 dimensions, ``"codestral-embed"``
        1536 unless ``output_dimension`` sets another size.
    base_url : str, default="https://api.mistral.ai/v1"
        API root; requests go to ``{base_url}/embeddings``, so any Mistral- or
        OpenAI-compatible embeddings server works.
    api_key_env : str, default="MISTRAL_API_KEY"
        Name of the environment variable that holds the API key. The key is read at
        each transform that needs the API and is never stored on the estimator.
    cache_dir : str, path, None or False, default=None
        Directory of the on-disk vector cache. ``None`` uses the environment variable
        ``SKLEARN_MISTRAL_CACHE_DIR``, else ``~/.cache/sklearn-mistral`` (or under
        ``$XDG_CACHE_HOME``). ``False`` turns caching off.
    batch_size : int, default=128
        Maximum texts per request. Mistral's documented examples use 128; reports put
        the server's cap at 256. A batch the server finds too large is split and resent.
    max_tokens_per_request : int, default=16384
        Maximum billed tokens per request, the API's limit summed over inputs.
    max_concurrency : int, default=4
        Maximum requests in flight at once. After a 429, requests are also paced to
        the rate the server accepts.
    max_retries : int, default=5
        Retries per batch after a 429, a 5xx, a timeout or a dropped connection.
        Other errors are raised at once.
    timeout : float, default=60.0
        Seconds to wait for each response.
    output_dimension : int or None, default=None
        Dimensions to request (codestral-embed only, at most 3072).
    output_dtype : {"float", "int8", "uint8", "binary", "ubinary"}, default="float"
        Precision requested from the API (codestral-embed). Quantized answers are
        scaled back to float32: ``int8`` by 1/127, ``uint8`` to [-1, 1], bit-packed
        ones to +1 and -1 per dimension.
    truncate : bool, default=False
        What to do with texts over 8192 tokens, the API's per-input limit. ``False``
        raises :class:`~sklearn_mistral.TextTooLongError` listing them before any
        request; ``True`` cuts them to the limit with Mistral's tokenizer and warns.
    progress_bar : bool, default=False
        Show a tqdm progress bar of the texts being fetched.

    See Also
    --------
    sklearn.feature_extraction.text.TfidfVectorizer : Sparse word-count features, no API.
    sklearn_mistral.testing.FakeMistralAPI : Offline stand-in for the API, for tests.
    sklearn_mistral.track_usage : Count requests, cache hits and billed tokens.

    Notes
    -----
    The cache key is a SHA-256 digest of the model, the output settings, the server
    family (``*.mistral.ai``, loopback, or the host name) and the exact text; the cache
    stores no text. Entries carry a checksum, and a damaged entry is fetched again.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_mistral import MistralEmbeddingVectorizer
    >>> from sklearn_mistral.testing import FakeMistralAPI
    >>> texts = ["my skin itches", "red itchy rash", "a sharp headache", "my head hurts"]
    >>> labels = ["skin", "skin", "head", "head"]
    >>> with FakeMistralAPI() as fake:
    ...     vectorizer = MistralEmbeddingVectorizer(
    ...         base_url=fake.base_url, api_key_env=fake.api_key_env, cache_dir=False)
    ...     X = vectorizer.transform(texts)
    ...     model = make_pipeline(vectorizer, LogisticRegression()).fit(texts, labels)
    ...     prediction = model.predict(["an itchy rash on my skin"])
    >>> X.shape, X.dtype
    ((4, 1024), dtype('float32'))
    >>> prediction.tolist()
    ['skin']
    """

    _parameter_constraints = {
        "model": [str],
        "base_url": [str],
        "api_key_env": [str],
        "cache_dir": [str, os.PathLike, None, Options(bool, {False})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_tokens_per_request": [Interval(Integral, 1, None, closed="left")],
        "max_concurrency": [Interval(Integral, 1, None, closed="left")],
        "max_retries": [Interval(Integral, 0, None, closed="left")],
        "timeout": [Interval(Real, 0, None, closed="neither")],
        "output_dimension": [Interval(Integral, 1, None, closed="left"), None],
        "output_dtype": [StrOptions(_OUTPUT_DTYPES)],
        "truncate": ["boolean"],
        "progress_bar": ["boolean"],
    }

    def __init__(
        self,
        *,
        model="mistral-embed",
        base_url="https://api.mistral.ai/v1",
        api_key_env="MISTRAL_API_KEY",
        cache_dir=None,
        batch_size=128,
        max_tokens_per_request=16384,
        max_concurrency=4,
        max_retries=5,
        timeout=60.0,
        output_dimension=None,
        output_dtype="float",
        truncate=False,
        progress_bar=False,
    ):
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.max_tokens_per_request = max_tokens_per_request
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.timeout = timeout
        self.output_dimension = output_dimension
        self.output_dtype = output_dtype
        self.truncate = truncate
        self.progress_bar = progress_bar

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and ``X``; no request is sent.

        Parameters
        ----------
        X : list-like of str of shape (n_samples,) or (n_samples, 1)
            Texts, as for :meth:`transform`.
        y : None
            Ignored.

        Returns
        -------
        self : MistralEmbeddingVectorizer
        """
        self._check_settings()
        check_texts(X)
        return self

    def transform(self, X):
        """Embed each text of ``X``.

        Parameters
        ----------
        X : list-like of str of shape (n_samples,) or (n_samples, 1)
            A list, tuple, 1-D array, pandas Series, ``(n_samples, 1)`` array or
            one-column DataFrame of non-empty strings.

        Returns
        -------
        X_embedded : ndarray of float32 of shape (n_samples, n_features)
            C-contiguous, one row per text in input order.
        """
        self._validate_params()
        settings = self._check_settings()
        texts = check_texts(X)
        if not texts:
            return self._empty_output(settings)
        return embed_texts(texts, settings)

    def estimate_cost(self, X):
        """Work out what ``transform(X)`` would send and cost, without sending anything.

        Reads the cache and counts the tokens of the texts not in it, so a batch job can
        be priced before it starts. No API key is needed.

        Parameters
        ----------
        X : list-like of str of shape (n_samples,) or (n_samples, 1)
            Texts, as for :meth:`transform`.

        Returns
        -------
        estimate : CostEstimate
            Texts, distinct texts, cached texts, tokens to bill, planned requests,
            texts over the input limit and the price in US dollars.

        Examples
        --------
        >>> from sklearn_mistral import MistralEmbeddingVectorizer
        >>> vectorizer = MistralEmbeddingVectorizer(cache_dir=False)
        >>> estimate = vectorizer.estimate_cost(["Embed this sentence.", "As well as this one."])
        >>> estimate.n_tokens, estimate.n_requests
        (15, 1)
        """
        self._validate_params()
        return estimate_cost(check_texts(X), self._check_settings())

    def get_feature_names_out(self, input_features=None):
        """Return ``mistralembeddingvectorizer0`` ... one name per output dimension.

        Works unfitted and sends no request, because the output size of the known
        models follows from the parameters. The notebook HTML repr relies on that.

        Parameters
        ----------
        input_features : None
            Ignored; the input is a single text column.

        Returns
        -------
        feature_names_out : ndarray of str objects

        Raises
        ------
        ValueError
            If the output size is unknown: a model this package does not know that
            no transform in this process has returned vectors for yet.
        """
        self._validate_params()
        if n_features_of(self._check_settings()) is None:
            raise ValueError(self._unknown_size_message())
        return super().get_feature_names_out()

    @property
    def _n_features_out(self):
        n_features = n_features_of(self._settings())
        if n_features is None:
            # Raise AttributeError, not ValueError, because hasattr() and dir(), which
            # the HTML repr calls, catch only AttributeError.
            raise AttributeError(self._unknown_size_message())
        return n_features

    def _unknown_size_message(self):
        return (
            f"the output size of model {self.model!r} is unknown until a transform has "
            "returned vectors; call transform once, or set output_dimension."
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _settings(self):
        params = self.get_params()

        # numpy scalars (from a GridSearchCV grid given as an array) become plain
        # values, so they serialize to JSON and hash to the same cache keys.
        for name in ("model", "base_url", "api_key_env", "output_dtype"):
            params[name] = str(params[name])
        if params["output_dimension"] is not None:
            params["output_dimension"] = int(params["output_dimension"])
        return EmbeddingSettings(**params)

    def _check_settings(self):
        """Return the settings, rejecting combinations the API would reject."""
        if self.output_dimension is not None and self.model.startswith("mistral-embed"):
            raise ValueError(
                f"output_dimension={self.output_dimension} is not supported by {self.model!r}, "
                "which always returns 1024 dimensions; leave output_dimension=None or use codestral-embed."
            )
        if isinstance(self.cache_dir, str) and not self.cache_dir.strip():
            raise ValueError(
                "cache_dir='' is not a directory. Pass a directory path, None for the default "
                "cache directory, or False to turn caching off."
            )
        check_base_url(self.base_url)
        return self._settings()

    def _empty_output(self, settings):
        return np.zeros((0, n_features_of(settings) or 0), dtype=np.float32)
