"""The README's configuration table covers every config field and says, as
the comment in generated configs does, which fields a running server
applies at once and which only at start; its links into docs/ lead to
headings that exist."""

from __future__ import annotations

import os
import re
import typing

import msgspec
from markdown_it import MarkdownIt

from moxpy import config as configlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read(name: str) -> str:
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def config_table() -> list[list[str]]:
    """The rows (cells as markdown source) of the table in the README's Configuration section."""
    text = _read("README.md")
    section = text[text.index("\n## Configuration\n"):]
    section = section[: section.index("\n## ", 1)]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert rows[0] == "| field | default | applies | meaning |"
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip().strip("|"))] for row in rows[2:]]


def field_names(struct: type) -> set[str]:
    """Names of the fields of a config struct and of the structs within it."""
    names = set()
    for name, hint in typing.get_type_hints(struct).items():
        if name == "path":  # set when loaded, not in the file
            continue
        names.add(name)
        pending = [hint]
        while pending:
            hint = pending.pop()
            if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
                names |= field_names(hint)
            pending.extend(typing.get_args(hint))
    return names


def test_table_names_every_config_field():
    words = set(re.findall(r"[A-Za-z0-9]+", " ".join(" ".join(row) for row in config_table())))
    missing = field_names(configlib.Config) - words
    assert not missing, f"config fields missing from the README's configuration table: {sorted(missing)}"


def _header_list(prefix: str) -> set[str]:
    """The settings the generated config's comment lists after prefix, without their parenthesised details."""
    lines = configlib.HEADER.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# " + prefix))
    text = lines[start].removeprefix("# " + prefix)
    for line in lines[start + 1:]:
        if line == "#" or line.startswith("# Applied"):
            break
        text += " " + line.removeprefix("# ")
    text = re.sub(r"\([^)]*\)", "", text).rstrip(". ")
    return {item.strip().removeprefix("and ").strip() for item in text.split(",") if item.strip()}


def _setting(cell: str) -> list[str]:
    """What a table row is about, as the config comment names it: a top-level
    field, a section (Accounts, Domains, Listeners, DNS, Postmaster), or
    Queue.FIELD for each queue field of the row."""
    section = re.match(r"`\[([A-Za-z]+)", cell)
    if not section:
        return [cell.strip("`")]
    if section.group(1) == "Queue":
        return ["Queue." + name for name in re.findall(r"\] ([A-Za-z]+)`|`([A-Za-z]+)`", cell)[0] if name]
    return [section.group(1)]


def test_table_says_what_applies_at_once_as_the_config_comment_does():
    applies: dict[str, set[str]] = {"at once": set(), "at start": set()}
    for row in config_table():
        assert row[2] in applies, f"{row[0]}: applies is {row[2]!r}, not 'at once' or 'at start'"
        applies[row[2]].update(_setting(row[0]))
    assert applies["at once"] == _header_list("Applied at once: ")
    assert applies["at start"] == _header_list("Applied only at start, so restart after changing: ")


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_readme_and_operations_links_into_each_other_lead_to_headings():
    md = MarkdownIt()
    checked = 0
    for source in ("README.md", "docs/operations.md"):
        tokens = md.parse(_read(source))
        links = [child.attrs["href"] for token in tokens if token.type == "inline"
                 for child in token.children or [] if child.type == "link_open"]
        for link in links:
            path, _, anchor = str(link).partition("#")
            if not path.endswith(".md") or "://" in path:
                continue
            target = os.path.normpath(os.path.join(os.path.dirname(source), path))
            assert os.path.exists(os.path.join(ROOT, target)), f"{source}: {link}: no such file"
            if anchor:
                target_tokens = md.parse(_read(target))
                headings = {_slug(target_tokens[i + 1].content) for i, t in enumerate(target_tokens)
                            if t.type == "heading_open"}
                assert anchor in headings, f"{source}: {link}: no such heading"
                checked += 1
    assert checked >= 3
