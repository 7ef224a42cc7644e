#!/usr/bin/env bash
# Host set-up (engine, QEMU, registry, mmdebstrap) plus xbuild in ./.venv. Idempotent; root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/host-setup.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
echo "setup: xbuild $(.venv/bin/xbuild --version | cut -d' ' -f2) in .venv" >&2
