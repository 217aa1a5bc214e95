#!/usr/bin/env bash
# Regenerate the webapi documentation from the code: docs/webapi.md.
#   ./gendoc.sh [OUTPUT]    (default docs/webapi.md)
# Methods, fields and webhooks come from the types in moxpy/webapi and
# moxpy/webhooks; the example webhook payloads are those `mox.py example`
# prints. The server serves the same text at /webapi/v0/docs.
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-docs/webapi.md}"
python=python3
[ -x .venv/bin/python ] && python=.venv/bin/python
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
"$python" -m moxpy.webapi.docs > "$tmp"
mkdir -p "$(dirname "$out")"
mv "$tmp" "$out"
trap - EXIT
