"""An account's delivery rules as a Sieve script (RFC 5228, with the
extensions fileinto, imap4flags of RFC 5232 and copy of RFC 3894), for
servers that filter with Sieve.

The script decides what the rules decide (rules.py). Rules apply in their
order, but what they do does not depend on it except for the first
storeIn or discard, so the script has three parts: the markRead and
markFlagged rules set flags (addflag), the forward rules send a copy each
(redirect :copy keeps the message, RFC 3894 3), and then one if/elsif
chain of the storeIn and discard rules picks the first that matches.
fileinto and the implicit keep store with the flags set so far (RFC 5232
5), which by then are all of them. Disabled rules are left out, named in
a comment.

Sieve compares with i;ascii-casemap by default (RFC 5228 2.7.3), which
ignores the case of ASCII letters only; the rules ignore the case of all
letters.
"""

from __future__ import annotations

from .rules import FLAGS, HEADER_PREFIX, Condition, Rule

REQUIRE = 'require ["fileinto", "imap4flags", "copy"];'


def quote(text: str) -> str:
    """A Sieve quoted string (RFC 5228 2.4.2: backslash escapes backslash and double quote)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _match_key(glob: str) -> str:
    """The :matches key for a glob of the rules, where only * is special: ? and \\ are escaped (RFC 5228
    2.7.1), before the string itself is quoted."""
    return glob.replace("\\", "\\\\").replace("?", "\\?")


_TEXT = {"is": ":is", "isNot": ":is", "contains": ":contains", "notContains": ":contains", "matches": ":matches"}


def condition_test(condition: Condition) -> str:
    """The Sieve test of one (checked) condition."""
    op, value = condition.operation, condition.value
    if condition.field == "Size":
        # RFC 5228 5.9: :over and :under are strict, and there is nothing for "is".
        return {
            "greaterThan": f"size :over {value}",
            "lessThan": f"size :under {value}",
            "is": f"allof (not size :over {value}, not size :under {value})",
            "isNot": f"anyof (size :over {value}, size :under {value})",
        }[op]
    key = quote(_match_key(value) if op == "matches" else value)
    if condition.field == "From":
        # RFC 5228 5.1: address compares the addresses of the field, :all the whole of each.
        found = f'address :all {_TEXT[op]} "from" {key}'
    elif condition.field == "AnyToOrCc":
        found = f'address :all {_TEXT[op]} ["to", "cc"] {key}'
    else:
        header = "subject" if condition.field == "Subject" else condition.field[len(HEADER_PREFIX):]
        found = f"header {_TEXT[op]} {quote(header)} {key}"
    return "not " + found if op in ("isNot", "notContains") else found


def rule_test(rule: Rule) -> str:
    """The test of a whole rule: its conditions joined, true without any."""
    tests = [condition_test(c) for c in rule.conditions]
    if not tests:
        return "true"
    if len(tests) == 1:
        return tests[0]
    inner = ",\n        ".join(tests)
    return f"{'anyof' if rule.join == 'or' else 'allof'} (\n        {inner})"


def _command(rule: Rule) -> str:
    kind, value = rule.action.kind, rule.action.value
    if kind in FLAGS:
        return f"addflag {quote(FLAGS[kind])};"
    if kind == "forward":
        return f"redirect :copy {quote(value)};"
    if kind == "storeIn":
        return f"fileinto {quote(value)};"
    return "discard;"


def _block(keyword: str, rule: Rule) -> list[str]:
    return [f"{keyword} {rule_test(rule)} {{", f"    # rule {quote(rule.name)}", f"    {_command(rule)}", "}"]


def export(rules: list[Rule], account: str = "") -> str:
    """The Sieve script of the rules, in their order (as store.rules keeps them)."""
    lines = [f"# Delivery rules{' of account ' + quote(account) if account else ''}, exported from moxpy.", REQUIRE]
    for rule in rules:
        if rule.disabled:
            lines.append(f"# rule {quote(rule.name)} is disabled, and left out")
    active = [rule for rule in rules if not rule.disabled]
    flagging = [rule for rule in active if rule.action.kind in FLAGS]
    forwarding = [rule for rule in active if rule.action.kind == "forward"]
    deciding = [rule for rule in active if rule.action.kind in ("storeIn", "discard")]
    if flagging:
        lines += ["", "# Flags, from every rule that matches."]
        for rule in flagging:
            lines += _block("if", rule)
    if forwarding:
        lines += ["", "# Copies, to every address of a rule that matches; the message is kept too."]
        for rule in forwarding:
            lines += _block("if", rule)
    if deciding:
        lines += ["", "# Where it goes: the first rule that matches decides."]
        for i, rule in enumerate(deciding):
            lines += _block("if" if i == 0 else "elsif", rule)
    return "\n".join(lines) + "\n"
