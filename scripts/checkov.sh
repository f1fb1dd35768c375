#!/usr/bin/env bash
# Static security scan of terraform/ with checkov, in a venv of its own (.venv-checkov): checkov pins
# its own versions of libraries the app also uses, so it must not share the app's .venv.
# The venv is created on first use (needs PyPI). Skipped checks and their reasons: terraform/.checkov.yaml.
# Usage: scripts/checkov.sh [extra checkov args]   Exit status: checkov's (non-zero on any failed check),
# or 3 when the venv cannot be created (e.g. offline).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CHECKOV_VENV:-$ROOT/.venv-checkov}"
PYTHON="${PYTHON:-python3}"
EXIT_NO_VENV=3

if [ ! -x "$VENV/bin/checkov" ]; then
  echo "creating $VENV and installing checkov" >&2
  if ! { "$PYTHON" -m venv "$VENV" \
         && "$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==${CHECKOV_VERSION:-3.3.30}"; }; then
    echo "error: cannot create the checkov venv at $VENV (is PyPI reachable?)" >&2
    rm -rf "$VENV"
    exit "$EXIT_NO_VENV"
  fi
fi

cd "$ROOT"
# --skip-download: no call to the vendor API (guidelines, custom policies); every check still runs offline.
exec "$VENV/bin/checkov" -d terraform --config-file terraform/.checkov.yaml --quiet --compact --skip-download "$@"
