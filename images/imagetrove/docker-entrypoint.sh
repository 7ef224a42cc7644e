#!/bin/bash
# Starts ImageTrove: settles the configuration from the environment, prepares PostgreSQL's
# data directory and Orthanc's configuration, then replaces itself with supervisord.
#
#   MYTARDIS_SECRET_KEY, POSTGRES_PASSWORD   generated once and kept in /data when unset
#   MYTARDIS_ALLOWED_HOSTS (*), MYTARDIS_DEBUG (false), MYTARDIS_DB_NAME/USER (tardis)
#   MYTARDIS_ADMIN_USER, MYTARDIS_ADMIN_PASSWORD, MYTARDIS_ADMIN_EMAIL   first admin
#   ORTHANC_NAME (ImageTrove), ORTHANC_AET (ORTHANC)
#   CELERY_BROKER_URL   starts a celery worker against that broker
# Each secret may instead be given as <NAME>_FILE, e.g. a Docker secret.
set -euo pipefail

if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
    exec "$@"
fi

say() { echo "imagetrove: $*" >&2; }
die() { say "$*"; exit 2; }
state=/data/imagetrove

from_file() {
    local file_var="${1}_FILE"
    if [ -n "${!file_var:-}" ]; then
        [ -r "${!file_var}" ] || die "$file_var=${!file_var}: cannot read it"
        printf -v "$1" '%s' "$(cat "${!file_var}")"
    fi
}

# A secret left unset is generated on first start and kept with the data it protects.
persisted() {
    from_file "$1"
    if [ -z "${!1:-}" ]; then
        if [ ! -s "$state/$1" ]; then
            (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n/+=' >"$state/$1")
            say "$1 not given: generated one (kept in $state/$1)"
        fi
        printf -v "$1" '%s' "$(cat "$state/$1")"
    fi
    export "${1?}"
}

check_settings() {
    [[ ${MYTARDIS_DEBUG:-false} =~ ^(true|false)$ ]] || die "MYTARDIS_DEBUG=$MYTARDIS_DEBUG: must be true or false"
    [[ ${ORTHANC_AET:-ORTHANC} =~ ^[A-Za-z0-9_-]{1,16}$ ]] || die "ORTHANC_AET=$ORTHANC_AET: must be 1 to 16 letters, digits, _ or -"
    [[ ${MYTARDIS_WORKERS:-2} =~ ^[1-9][0-9]*$ ]] || die "MYTARDIS_WORKERS=$MYTARDIS_WORKERS: must be a positive whole number"
    from_file MYTARDIS_ADMIN_PASSWORD
    if [ -n "${MYTARDIS_ADMIN_USER:-}" ] && [ -z "${MYTARDIS_ADMIN_PASSWORD:-}" ]; then
        die "MYTARDIS_ADMIN_USER is set but MYTARDIS_ADMIN_PASSWORD is not"
    fi
    export MYTARDIS_ADMIN_PASSWORD="${MYTARDIS_ADMIN_PASSWORD:-}"
    export MYTARDIS_DB_NAME="${MYTARDIS_DB_NAME:-tardis}" MYTARDIS_DB_USER="${MYTARDIS_DB_USER:-tardis}"
}

prepare_postgres() {
    install -d -o postgres -g postgres -m 0700 /data/postgresql
    install -d -o postgres -g postgres /run/postgresql
    if [ ! -s /data/postgresql/PG_VERSION ]; then
        say "initialising PostgreSQL in /data/postgresql"
        runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D /data/postgresql \
            --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 >/dev/null
    fi
}

write_orthanc_config() {
    ORTHANC_NAME=${ORTHANC_NAME:-ImageTrove} ORTHANC_AET=${ORTHANC_AET:-ORTHANC} python3 - <<'PY'
import json, os
config = {"Name": os.environ["ORTHANC_NAME"], "DicomAet": os.environ["ORTHANC_AET"],
          "StorageDirectory": "/OrthancStorage", "IndexDirectory": "/OrthancStorage",
          "HttpPort": 8042, "DicomPort": 4242, "RemoteAccessAllowed": True,
          "AuthenticationEnabled": False}
with open("/run/imagetrove/orthanc.json", "w") as out:
    json.dump(config, out, indent=2)
PY
}

write_celery_program() {
    mkdir -p /run/imagetrove/supervisor.d
    rm -f /run/imagetrove/supervisor.d/celery.conf
    [ -n "${CELERY_BROKER_URL:-}" ] || return 0
    cat >/run/imagetrove/supervisor.d/celery.conf <<'INI'
[program:celery]
command=/opt/mytardis-venv/bin/python -m celery --app tardis.celery.tardis_app worker --concurrency 2 --queues celery,default
directory=/opt/mytardis
user=mytardis
autorestart=true
redirect_stderr=true
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
INI
}

mkdir -p "$state" /run/imagetrove
# /var/log is a volume: a fresh bind mount lacks MyTARDIS's log folder.
install -d -o mytardis -g mytardis /var/log/mytardis
chmod 0700 "$state"
check_settings
persisted MYTARDIS_SECRET_KEY
persisted POSTGRES_PASSWORD
prepare_postgres
write_orthanc_config
write_celery_program
say "starting PostgreSQL, Orthanc (${ORTHANC_AET:-ORTHANC}) and MyTARDIS under supervisord"
exec /usr/bin/supervisord -c /etc/supervisor/imagetrove.conf
