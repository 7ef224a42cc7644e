#!/bin/sh
# Build-time install of MyTARDIS from the files in $1 (the `downloads` build context):
# mytardis.tar.gz, plus every other file there, which is a Python package Debian lacks.
set -eu
downloads=$1

fail() { echo "imagetrove install: $*" >&2; exit 1; }
[ -f "$downloads/mytardis.tar.gz" ] || fail "mytardis.tar.gz is missing from the downloads context"

mkdir -p /opt/mytardis
tar -xzf "$downloads/mytardis.tar.gz" -C /opt/mytardis --strip-components=1 --no-same-owner
install -m 0644 /usr/local/lib/imagetrove/settings.py /opt/mytardis/tardis/settings.py

# Debian's packages are the dependencies; the venv adds only what Debian lacks, with no
# package index, so nothing is fetched behind the checksums' back.
python3 -m venv --system-site-packages /opt/mytardis-venv
set --
for file in "$downloads"/*; do
    [ "$(basename "$file")" = mytardis.tar.gz ] || set -- "$@" "$file"
done
if [ "$#" -gt 0 ]; then
    /opt/mytardis-venv/bin/pip install --no-index --no-deps --no-build-isolation \
        --no-cache-dir "$@"
fi
# Every requirement those packages declare must be met, by Debian or by the downloads.
/opt/mytardis-venv/bin/pip check

groupadd --system --gid 997 mytardis
useradd --system --uid 997 --gid mytardis --home-dir /opt/mytardis --no-create-home \
    --shell /usr/sbin/nologin mytardis
install -d -o mytardis -g mytardis /mytardis_store /mytardis_staging /opt/mytardis/static \
    /var/log/mytardis
install -d -o orthanc -g orthanc /OrthancStorage
install -d /imagetrove /scratch /run/imagetrove

# Settings must load and Django's system checks pass now, not at a user's first start.
cd /opt/mytardis
export MYTARDIS_SECRET_KEY=build-time-only
/opt/mytardis-venv/bin/python manage.py check
/opt/mytardis-venv/bin/python manage.py collectstatic --noinput --verbosity 0
chmod 0755 /usr/local/lib/imagetrove
