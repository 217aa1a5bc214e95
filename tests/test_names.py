"""Each class name in moxpy means one thing, and names are words, not
keywords with an underscore: a reader who meets a name knows which thing it is."""

import ast
import collections
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "moxpy"

# Still two things each: config sections named like what they configure (config.Account and
# store.Account, config.Queue and queue.Queue), and the operator filters of queue and webhooks.
KNOWN = {"Account", "Filter", "Queue"}


def classes() -> dict[str, list[str]]:
    found = collections.defaultdict(list)
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                found[node.name].append(str(path.relative_to(PACKAGE)))
    return found


def test_class_names_are_unique():
    found = classes()
    assert {"MXResolver", "EnvelopeAddress", "NewMessage", "DeliveryReport"} <= set(found)
    twice = {name: paths for name, paths in found.items() if len(paths) > 1 and name not in KNOWN}
    assert twice == {}


def test_class_names_are_words():
    assert [name for name in classes() if name.endswith("_")] == []
