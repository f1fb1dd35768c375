#!/usr/bin/env bash
# Real services and system packages the test suite uses, made ready before pytest runs:
# - PostgreSQL on 127.0.0.1:5432 (every data-layer test also runs there): started if installed and down.
# - Debian's Chromium (the Swagger UI browser test): installed with apt-get when missing and we are root.
# What cannot be provided here is skipped by the tests, except under CI=true, where it fails the run.
set -euo pipefail

if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian chromium for the Swagger UI browser test" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: /usr/bin/chromium is missing and cannot be installed here; the browser test will skip" >&2
  fi
fi
