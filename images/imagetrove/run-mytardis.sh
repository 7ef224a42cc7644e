#!/bin/bash
# Under supervisord: wait for this container's PostgreSQL, make MyTARDIS's role and
# database on first start, migrate, then serve MyTARDIS with gunicorn as user mytardis.
set -euo pipefail

as_postgres() { runuser -u postgres -- "$@"; }
sql_literal() { printf "'%s'" "${1//\'/\'\'}"; }

until as_postgres pg_isready -q -h /run/postgresql; do sleep 1; done

db=$MYTARDIS_DB_NAME user=$MYTARDIS_DB_USER
if ! as_postgres psql -h /run/postgresql -tAc "SELECT 1 FROM pg_roles WHERE rolname = $(sql_literal "$user")" | grep -q 1; then
    as_postgres createuser -h /run/postgresql "$user"
fi
# The password follows POSTGRES_PASSWORD at every start.
as_postgres psql -h /run/postgresql -q -v ON_ERROR_STOP=1 \
    -c "ALTER ROLE \"$user\" WITH LOGIN PASSWORD $(sql_literal "$POSTGRES_PASSWORD")"
if ! as_postgres psql -h /run/postgresql -tAc "SELECT 1 FROM pg_database WHERE datname = $(sql_literal "$db")" | grep -q 1; then
    as_postgres createdb -h /run/postgresql -O "$user" "$db"
fi

cd /opt/mytardis
manage() { runuser -u mytardis -- /opt/mytardis-venv/bin/python manage.py "$@"; }
manage migrate --noinput
manage createcachetable
if [ -n "${MYTARDIS_ADMIN_USER:-}" ]; then
    DJANGO_SUPERUSER_USERNAME=$MYTARDIS_ADMIN_USER DJANGO_SUPERUSER_PASSWORD=$MYTARDIS_ADMIN_PASSWORD \
    DJANGO_SUPERUSER_EMAIL=${MYTARDIS_ADMIN_EMAIL:-$MYTARDIS_ADMIN_USER@localhost} \
        manage createsuperuser --noinput 2>/dev/null || echo "imagetrove: admin $MYTARDIS_ADMIN_USER exists"
fi
exec runuser -u mytardis -- /opt/mytardis-venv/bin/python -m gunicorn \
    --bind 0.0.0.0:8000 --workers "${MYTARDIS_WORKERS:-2}" --timeout 1800 wsgi:application
