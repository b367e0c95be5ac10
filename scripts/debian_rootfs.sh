#!/usr/bin/env bash
# Make a clean Debian root filesystem (python3 and pip/venv only: no compiler,
# no Rust, no LLVM, no GMP/MPFR headers) with debootstrap, for
# `scripts/wheel_check.sh --rootfs DIR`. Needs root and Debian's mirror.
#
#   scripts/debian_rootfs.sh [SUITE [DIR]]    (default: bookworm /var/tmp/alkahest-rootfs-SUITE)
#
# SUITE defaults to bookworm (Debian 12): the oldest Debian release whose
# python3 meets requires-python >= 3.10 (bullseye has 3.9). Kept between runs;
# delete DIR to rebuild it.
set -euo pipefail
SUITE="${1:-bookworm}"
DIR="${2:-/var/tmp/alkahest-rootfs-$SUITE}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
log() { printf '[rootfs] %s\n' "$*" >&2; }

if [[ -x "$DIR/usr/bin/python3" && -f "$DIR/.alkahest-rootfs-ok" ]]; then
  log "$DIR exists"; exit 0
fi
[[ "$(id -u)" == 0 ]] || { log "debootstrap needs root"; exit 1; }
command -v debootstrap >/dev/null || {
  log "installing debootstrap"
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
}
rm -rf "$DIR"
log "debootstrap --variant=minbase $SUITE $DIR (a few minutes)"
debootstrap --variant=minbase --include=python3,python3-venv "$SUITE" "$DIR" "$MIRROR" >&2
# Prove the point of this rootfs: nothing to compile or link with.
for tool in cc gcc rustc cargo llvm-config-19; do
  if chroot "$DIR" sh -c "command -v $tool" >/dev/null 2>&1; then
    log "unexpected: $tool in the rootfs"; exit 1
  fi
done
touch "$DIR/.alkahest-rootfs-ok"
log "ready: $DIR ($(chroot "$DIR" python3 -V))"
