import inspect

import sklearn_mistral
import sklearn_mistral.datasets


def test_all_is_sorted_and_complete():
    public = {name for name in vars(sklearn_mistral) if not name.startswith("_")}
    modules = {name for name in public if inspect.ismodule(getattr(sklearn_mistral, name))}

    assert sklearn_mistral.__all__ == sorted(sklearn_mistral.__all__)
    assert set(sklearn_mistral.__all__) == public - modules


def test_all_names_are_importable():
    for name in sklearn_mistral.__all__ + sklearn_mistral.datasets.__all__:
        assert getattr(sklearn_mistral, name, None) or getattr(sklearn_mistral.datasets, name)


def test_errors_share_one_base():
    for name in sklearn_mistral.__all__:
        value = getattr(sklearn_mistral, name)
        if inspect.isclass(value) and issubclass(value, Exception):
            assert issubclass(value, sklearn_mistral.MistralEmbeddingError)
