#!/usr/bin/env bash
# Make a Docker engine answer on this machine, for CI and for developers on Debian 12:
#   1. install Debian's docker.io and docker-compose (1.29) when they are missing,
#   2. start dockerd in the background when no engine answers,
#   3. build a local base image when the default one (python:3.11-slim) cannot be pulled
#      (debootstrap a minimal bookworm with Python and pebble, then `docker import`), cached on disk.
# Idempotent and quiet: a second run with everything in place takes a second or two.
# It prints the base image to build on (ISLAND_BASE_IMAGE) as its last line.
set -euo pipefail

# The tag names what is in it: a base without pebble (an older cache) is not reused.
BASE_TAG="${ISLAND_LOCAL_BASE:-odrift-base:bookworm-pebble}"
CACHE="${ODRIFT_CACHE:-/var/cache/odrift}"
LOG="${ODRIFT_DOCKERD_LOG:-/var/log/odrift-dockerd.log}"
# The Debian mirror this machine's own apt uses (deb822 .sources or one-line .list), so debootstrap
# reaches what apt reaches; DEBIAN_MIRROR overrides it.
apt_mirror() {
    local uri
    uri="$(cat "${APT_ROOT:-}"/etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk 'tolower($1)=="uris:" { for (i = 2; i <= NF; i++) print $i }' \
        | grep -E '/debian/?$' | head -n 1 || true)"
    if [[ -z "$uri" ]]; then
        uri="$(cat "${APT_ROOT:-}"/etc/apt/sources.list "${APT_ROOT:-}"/etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '$1=="deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { print $i; break } }' \
            | grep -E '/debian/?$' | head -n 1 || true)"
    fi
    echo "${uri%/}"
}
MIRROR="${DEBIAN_MIRROR:-$(apt_mirror)}"
if [[ -z "$MIRROR" ]]; then
    echo "ci-engine: no Debian mirror in /etc/apt/sources.list(.d); set DEBIAN_MIRROR=URL" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive

say() { echo "ci-engine: $*" >&2; }

missing=()
for pair in dockerd:docker.io docker-compose:docker-compose debootstrap:debootstrap; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    if ! apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
        apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
        apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

if ! docker info >/dev/null 2>&1; then
    say "starting dockerd (log: $LOG)"
    mkdir -p "$(dirname "$LOG")"
    # containerd is started by dockerd itself; setsid so the daemon outlives this shell.
    # --ip-forward=false: the island routes inside its own router container, and dockerd
    # would otherwise switch on the host's forwarding and set its FORWARD policy to DROP,
    # which breaks other bridges and namespaces on the machine (published ports still work:
    # docker-proxy carries them).
    setsid /usr/sbin/dockerd --ip-forward=false >>"$LOG" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    if ! docker info >/dev/null 2>&1; then
        say "dockerd did not answer within 30 s; the end of its log:"
        tail -n 20 "$LOG" >&2
        exit 1
    fi
fi

if [[ -n "${ISLAND_BASE_IMAGE:-}" ]]; then
    echo "$ISLAND_BASE_IMAGE"
    exit 0
fi
if docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
    echo "$BASE_TAG"
    exit 0
fi
# The default base for users; present only if someone loaded it (no registry answers here).
if docker image inspect python:3.11-slim >/dev/null 2>&1; then
    echo "python:3.11-slim"
    exit 0
fi

tarball="$CACHE/bookworm-minbase-pebble.tar"
if [[ ! -s "$tarball" ]]; then
    say "building a bookworm base image with debootstrap (about a minute, once per machine)"
    mkdir -p "$CACHE"
    root="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    trap 'rm -rf "$root"' EXIT
    debootstrap --variant=minbase \
        --include=python3,python3-venv,nftables,iproute2,ca-certificates,pebble \
        bookworm "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
        say "debootstrap failed; the end of $CACHE/debootstrap.log:"
        tail -n 20 "$CACHE/debootstrap.log" >&2
        exit 1
    }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
fi
docker import "$tarball" "$BASE_TAG" >/dev/null
echo "$BASE_TAG"
