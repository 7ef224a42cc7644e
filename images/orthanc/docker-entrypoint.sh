#!/bin/sh
# Writes Orthanc's configuration from /etc/orthanc, Docker secrets and the
# environment (see /usr/local/lib/xbuild/orthanc_config.py), then replaces this
# shell with Orthanc so that Orthanc receives the container's signals.
set -eu

config=/run/orthanc/orthanc.json

# A command rather than options ("docker run IMAGE sh") runs instead of Orthanc.
if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
    exec "$@"
fi

flags=$(python3 /usr/local/lib/xbuild/orthanc_config.py --output "$config")
# shellcheck disable=SC2086 # the flags are single words such as --verbose
exec /usr/sbin/Orthanc $flags "$@" "$config"
