#!/usr/bin/env bash
# Write the server's OpenAPI schema, straight from the Python app, to $1 (default: openapi.json).
# Uses the repository's virtualenv; set LEDGERFLOW_PYTHON to use another interpreter.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
python="${LEDGERFLOW_PYTHON:-$root/.venv/bin/python}"
out="${1:-openapi.json}"
[[ "$out" = /* ]] || out="$PWD/$out"
if [[ ! -x "$python" ]]; then
  echo "dump-openapi: no Python at $python (run 'make install' at the repository root)" >&2
  exit 1
fi
cd "$root"
"$python" - "$out" <<'PY'
import json
import sys
from pathlib import Path

from ledgerflow.api.app import create_app

schema = create_app().openapi()
Path(sys.argv[1]).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
PY
