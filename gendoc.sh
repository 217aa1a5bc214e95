#!/usr/bin/env bash
# Regenerate the webapi documentation from the code: docs/webapi.md.
#   ./gendoc.sh [OUTPUT]    (default docs/webapi.md)
# The method and webhook sections come from the types in moxpy/webapi and
# moxpy/webhooks; the example webhook payloads from `mox.py example`.
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-docs/webapi.md}"
python=python3
[ -x .venv/bin/python ] && python=.venv/bin/python
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
"$python" -m moxpy.webapi.docs > "$tmp"
{
    printf '\n## Example webhook payloads\n\nFrom `mox.py example NAME`, made from the types the server sends.\n'
    for name in $("$python" mox.py example); do
        printf '\n### %s\n\n' "$name"
        # The description, then the JSON (indented by a tab) as a code block.
        "$python" mox.py example "$name" | awk '
            /^\t/ { if (!code) { print "```json"; code = 1 } sub(/^\t/, ""); print; next }
            { if (code) { print "```"; code = 0 } print }
            END { if (code) print "```" }'
    done
} >> "$tmp"
mkdir -p "$(dirname "$out")"
mv "$tmp" "$out"
trap - EXIT
