#!/bin/bash
# Starts PostgreSQL: on first start initialises $PGDATA, sets the superuser's password,
# creates POSTGRES_DB and runs /docker-entrypoint-initdb.d/*.sql and *.sh; then replaces
# itself with the server, run as user postgres and listening on every interface.
#
#   POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE, e.g. a Docker secret)   required
#   POSTGRES_USER (postgres), POSTGRES_DB (POSTGRES_USER)
# Connections from the network need the password (scram-sha-256); the server's own Unix
# socket, reachable only inside the container, trusts local users, as the postgres image does.
set -euo pipefail

say() { echo "postgres: $*" >&2; }
die() { say "$*"; exit 2; }

# Options for the server ("-c max_connections=200") or a command instead of it ("bash").
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi
shift

if [ "$(id -u)" = 0 ]; then
    install -d -o postgres -g postgres -m 0700 "$PGDATA"
    install -d -o postgres -g postgres -m 2775 /run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi

if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    [ -r "$POSTGRES_PASSWORD_FILE" ] || die "POSTGRES_PASSWORD_FILE=$POSTGRES_PASSWORD_FILE: cannot read it"
    POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
fi
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
for name in POSTGRES_USER POSTGRES_DB; do
    [[ ${!name} =~ ^[A-Za-z_][A-Za-z0-9_$-]{0,62}$ ]] \
        || die "$name=${!name}: must be 1 to 63 letters, digits, _, \$ or -, not starting with a digit"
done

sql_literal() { printf "'%s'" "${1//\'/\'\'}"; }

initialise() {
    [ -n "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) must be set to initialise $PGDATA"
    say "initialising $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)"
    initdb -D "$PGDATA" --username="$POSTGRES_USER" --encoding=UTF8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"

    # A private server, on the socket only, for the set-up.
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=/run/postgresql" \
        start >/dev/null
    local psql=(psql -v ON_ERROR_STOP=1 -q -h /run/postgresql -U "$POSTGRES_USER" -d postgres)
    "${psql[@]}" -c "ALTER ROLE \"$POSTGRES_USER\" WITH PASSWORD $(sql_literal "$POSTGRES_PASSWORD")"
    if [ "$POSTGRES_DB" != postgres ]; then
        "${psql[@]}" -c "CREATE DATABASE \"$POSTGRES_DB\""
    fi
    local script
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sql) say "running $script"; "${psql[@]}" -d "$POSTGRES_DB" -f "$script" ;;
            *.sh) say "running $script"; bash "$script" ;;
            *) [ -e "$script" ] && say "ignoring $script" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initialise
fi
say "starting PostgreSQL $(postgres --version | awk '{print $NF}') on port 5432"
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/run/postgresql "$@"
