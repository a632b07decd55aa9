#!/usr/bin/env bash
# Installs what kpreempt needs on Debian 12 (bookworm): compiler, build tools,
# GoogleTest/GoogleMock, Google Benchmark, and rt-app (whose example workload
# files the tests read). The sanitizer runtimes (libasan, libubsan) come with
# g++. Idempotent; runs as root or through sudo.
#
#   bash scripts/setup.sh           install (apt-get update + install)
#   bash scripts/setup.sh --check   only report whether anything is missing
#   bash scripts/setup.sh --bench   also the peers of bench/host/run.sh:
#                                   Boost.Context, rt-tests (cyclictest), Go
#                                   (the flags combine: --bench --check)
set -euo pipefail

PACKAGES=(cmake ninja-build g++ make libgtest-dev libgmock-dev libbenchmark-dev rt-app)
check_only=0
for arg in "$@"; do
    case "$arg" in
        --check) check_only=1 ;;
        --bench) PACKAGES+=(libboost-context-dev rt-tests golang-go) ;;
        *) echo "setup: unknown option $arg (--check, --bench)" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup: all packages present (${PACKAGES[*]})"
    exit 0
fi
if [ "$check_only" = 1 ]; then
    echo "setup: missing: ${missing[*]}"
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
