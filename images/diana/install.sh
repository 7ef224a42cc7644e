#!/bin/sh
# Build-time install of DIANA from the files in $1 (the `downloads` build context):
# diana.tar.gz (the diana2 repository, whose package/ holds python-diana and the `crud` and
# `wuphf` packages it bundles) and every other file there, each a Python package Debian
# lacks (gistsig, and the `bs4` alias of beautifulsoup4 that python-diana requires).
set -eu
downloads=$1
src=/usr/local/src/diana2

fail() { echo "diana install: $*" >&2; exit 1; }
[ -f "$downloads/diana.tar.gz" ] || fail "diana.tar.gz is missing from the downloads context"

work=$(mktemp -d)
# A GitHub archive holds one top folder, <repo>-<commit>; whatever it is named, drop it.
tar -xzf "$downloads/diana.tar.gz" -C "$work" --strip-components=1 --no-same-owner
[ -f "$work/package/setup.py" ] || fail "diana.tar.gz has no package/setup.py: is it diana2?"
mkdir -p "$(dirname "$src")"
mv "$work/package" "$src"
rm -rf "$work"

set --
for file in "$downloads"/*; do
    [ "$(basename "$file")" = diana.tar.gz ] || set -- "$@" "$file"
done

# Debian's packages are the dependencies; the venv sees them and adds only what Debian lacks,
# with no package index: a missing dependency fails `pip check`, not a download.
python3 -m venv --system-site-packages /opt/diana
/opt/diana/bin/pip install --no-index --no-deps --no-build-isolation --no-cache-dir "$@"
# Editable, as diana2's own image installs it: its setup.py lists only the top-level
# packages (crud, diana, wuphf), so a regular install would leave out diana.cli and the rest.
/opt/diana/bin/pip install --no-index --no-deps --no-build-isolation --no-cache-dir -e "$src"
/opt/diana/bin/pip check

/opt/diana/bin/python -c "import diana, crud; print('diana', diana.__version__, 'crud', crud.__version__)"
