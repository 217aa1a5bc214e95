"""Comparing a JSON answer with a documented example by shape rather than by value."""


def same_shape(got, documented, path="$"):
    """The answer has the documented shape: the same keys, with values of the same JSON types."""
    if isinstance(documented, dict):
        assert isinstance(got, dict), path
        assert set(got) == set(documented), f"{path}: {sorted(got)} != {sorted(documented)}"
        for key in documented:
            same_shape(got[key], documented[key], f"{path}.{key}")
    elif isinstance(documented, list):
        assert isinstance(got, list), path
        if got and documented:
            same_shape(got[0], documented[0], f"{path}[0]")
    elif documented is not None and got is not None:
        assert type(got) is type(documented) or {type(got), type(documented)} <= {int, float}, path
