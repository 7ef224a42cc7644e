#!/bin/sh
# Build-time install of DIANA from the files in $1 (the `downloads` build context):
# diana.tar.gz (the diana2 repository) and pycrud.tar.gz (derekmerck/pycrud).
set -eu
downloads=$1

fail() { echo "diana install: $*" >&2; exit 1; }
for file in diana.tar.gz pycrud.tar.gz; do
    [ -f "$downloads/$file" ] || fail "$file is missing from the downloads context"
done

work=$(mktemp -d)
for file in pycrud diana; do
    mkdir "$work/$file"
    tar -xzf "$downloads/$file.tar.gz" -C "$work/$file" --strip-components=1 --no-same-owner
done

# Debian's packages are the dependencies; the venv sees them and installs only DIANA's own
# code, with no package index: a missing dependency fails `pip check`, not a download.
python3 -m venv --system-site-packages /opt/diana
/opt/diana/bin/pip install --no-index --no-deps --no-build-isolation --no-cache-dir \
    "$work/pycrud/package" "$work/diana/package"
/opt/diana/bin/pip check
rm -rf "$work"

/opt/diana/bin/python -c "import diana, crud; print('diana', diana.__version__)"
