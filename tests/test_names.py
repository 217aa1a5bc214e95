"""Each class name in moxpy means one thing, and names are words, not
keywords with an underscore: a reader who meets a name knows which thing it is."""

import ast
import collections
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "moxpy"

# Types that carry mox's own names on the wire or in the config file (config.Account,
# config.Queue, webapi's Message, ...): a reader meets them qualified (config.Queue,
# t.Message), and their names are fixed by mox. Only other modules must not collide.
MIRRORS = {"config/__init__.py", "webapi/types.py", "webhooks/types.py"}

# Still two things: the operator filters of the queue and of the webhook queue.
KNOWN = {"Filter"}


def classes() -> dict[str, list[str]]:
    found = collections.defaultdict(list)
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef) and str(path.relative_to(PACKAGE)) not in MIRRORS:
                found[node.name].append(str(path.relative_to(PACKAGE)))
    return found


def test_class_names_are_unique():
    found = classes()
    assert {"MXResolver", "EnvelopeAddress", "NewMessage", "DeliveryReport"} <= set(found)
    twice = {name: paths for name, paths in found.items() if len(paths) > 1 and name not in KNOWN}
    assert twice == {}


def test_class_names_are_words():
    assert [name for name in classes() if name.endswith("_")] == []
