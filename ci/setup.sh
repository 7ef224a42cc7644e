#!/usr/bin/env bash
# Host set-up (engine, QEMU, registry, mmdebstrap, Node.js) plus xbuild and its dev tools in
# ./.venv, the tools pinned by ci/dev-constraints.txt. Idempotent; root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/host-setup.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -c ci/dev-constraints.txt -e '.[dev]'
echo "setup: xbuild $(.venv/bin/xbuild --version | cut -d' ' -f2) in .venv" >&2
