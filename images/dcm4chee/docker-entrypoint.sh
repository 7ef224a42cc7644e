#!/bin/bash
# Starts dcm4chee: renders the MySQL datasource from MYSQL_*, installs /crontab_file,
# waits for the database when one is given, then replaces itself with JBoss.
set -euo pipefail

# A command rather than options ("docker run IMAGE bash") runs instead of dcm4chee.
if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
    exec "$@"
fi

say() { echo "dcm4chee: $*" >&2; }
die() { say "$*"; exit 2; }

if [ -n "${MYSQL_PASSWORD_FILE:-}" ]; then
    [ -r "$MYSQL_PASSWORD_FILE" ] || die "MYSQL_PASSWORD_FILE=$MYSQL_PASSWORD_FILE: cannot read it"
    MYSQL_PASSWORD=$(cat "$MYSQL_PASSWORD_FILE")
fi
MYSQL_HOST=${MYSQL_HOST:-}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_DATABASE=${MYSQL_DATABASE:-pacsdb}
MYSQL_USER=${MYSQL_USER:-pacs}
MYSQL_PASSWORD=${MYSQL_PASSWORD:-pacs}
# Seconds between two attempts to reach the database. (The image this replaces read
# MYSQL_RETRY_CONNECT here by mistake, so MYSQL_CONNECT_RETRY was silently ignored.)
MYSQL_CONNECT_RETRY=${MYSQL_CONNECT_RETRY:-5}

for name in MYSQL_PORT MYSQL_CONNECT_RETRY; do
    [[ ${!name} =~ ^[1-9][0-9]*$ ]] || die "$name=${!name}: must be a positive whole number"
done
for name in MYSQL_HOST MYSQL_DATABASE MYSQL_USER MYSQL_PASSWORD; do
    [[ ${!name} != *$'\n'* ]] || die "$name: must be a single line"
done

# XML-escape a value, then escape it for the right-hand side of a sed s|||.
xml_value() {
    printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' \
        -e 's/[\\|&]/\\&/g'
}

render_datasource() {
    local url="jdbc:mysql://${MYSQL_HOST:-localhost}:${MYSQL_PORT}/${MYSQL_DATABASE}"
    sed -e "s|<connection-url>.*</connection-url>|<connection-url>$(xml_value "$url")</connection-url>|" \
        -e "s|<user-name>.*</user-name>|<user-name>$(xml_value "$MYSQL_USER")</user-name>|" \
        -e "s|<password>.*</password>|<password>$(xml_value "$MYSQL_PASSWORD")</password>|" \
        /usr/local/share/dcm4chee/pacs-mysql-ds.xml \
        >"$DCM4CHEE_HOME/server/default/deploy/pacs-mysql-ds.xml"
    say "datasource: $url as $MYSQL_USER"
}

start_cron() {
    if ! grep -qv '^[[:space:]]*\(#\|$\)' /crontab_file 2>/dev/null; then
        say "cron: no jobs in /crontab_file"
        return
    fi
    { echo "SHELL=/usr/local/lib/dcm4chee/cron-to-log"; cat /crontab_file; } | crontab -
    cron
    say "cron: $(crontab -l | grep -cv '^[[:space:]]*\(#\|$\|SHELL=\)') job(s) from /crontab_file"
}

wait_for_database() {
    if [ -z "$MYSQL_HOST" ]; then
        say "no MYSQL_HOST: starting without waiting for a database"
        return
    fi
    until (exec 3<>"/dev/tcp/$MYSQL_HOST/$MYSQL_PORT") 2>/dev/null; do
        say "waiting for MySQL at $MYSQL_HOST:$MYSQL_PORT (next try in ${MYSQL_CONNECT_RETRY}s)"
        sleep "$MYSQL_CONNECT_RETRY"
    done
}

render_datasource
start_cron
wait_for_database

# JBoss's run.conf sets its own defaults only when JAVA_OPTS is empty.
JAVA_OPTS="${JAVA_OPTS:--Xms128m -Xmx512m -Dsun.rmi.dgc.client.gcInterval=3600000 -Dsun.rmi.dgc.server.gcInterval=3600000}"
JAVA_OPTS="$JAVA_OPTS $(cat "$DCM4CHEE_HOME/bin/codec-java-opts")"
export JAVA_OPTS
say "JAVA_OPTS=$JAVA_OPTS"
# JBoss 4.2 binds to 127.0.0.1 unless told otherwise.
exec "$DCM4CHEE_HOME/bin/run.sh" -b 0.0.0.0 "$@"
