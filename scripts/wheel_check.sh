#!/usr/bin/env bash
# Install the built wheels into fresh virtualenvs, without network and without
# the project's .venv, and run the spec page's examples and one smoke test per
# tier (what `make wheel-check` runs): `alkahest` alone, then `alkahest[jit]` and
# `alkahest[full]` when the plugin wheels (alkahest_llvm-*, alkahest_full-*) are
# there too, each in its own venv, so an extra is installed the way pip
# resolves it for a user.
#
#   scripts/wheel_check.sh [--rootfs DIR] [WHEEL_DIR]
#       WHEEL_DIR: where `make wheels` put them (default: dist)
#       --rootfs DIR: run inside that root filesystem (chroot; as root) with its
#                     own /usr/bin/python3, e.g. the clean Debian that
#                     scripts/debian_rootfs.sh makes (no compiler, Rust or LLVM)
#
# The venv is made by $PYTHON (default: python3 on PATH; never .venv's) in a
# temporary directory. pip may only read WHEEL_DIR and .wheelhouse/ (numpy,
# pytest; `make wheels` fills it): --no-index, and when `unshare` can make a
# network namespace the whole check runs with no network device at all. The
# tests run from a copy outside the source tree, so `import alkahest` can only
# be the installed wheel.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOTFS=""
if [[ "${1:-}" == --rootfs ]]; then
  ROOTFS="$(cd "$2" && pwd)"
  shift 2
fi
WHEELS="$(cd "${1:-$ROOT/dist}" && pwd)"
HOUSE="$ROOT/.wheelhouse"
PYTHON="${PYTHON:-python3}"

log() { printf '[wheel-check] %s\n' "$*" >&2; }

shopt -s nullglob
whl=("$WHEELS"/alkahest-*.whl)
((${#whl[@]} == 1)) || { log "expected one alkahest wheel in $WHEELS (run make wheels)"; exit 1; }
[[ -d "$HOUSE" ]] || { log "no $HOUSE (run make wheels)"; exit 1; }
# What to install: the base wheel, then each extra whose plugin wheel is here.
REQS=(alkahest)
PLUGIN_WHEELS=()
for pair in llvm:jit full:full; do
  plug=("$WHEELS/alkahest_${pair%%:*}"-*.whl)
  ((${#plug[@]})) || continue
  REQS+=("alkahest[${pair##*:}]")
  PLUGIN_WHEELS+=("${plug[@]}")
done
# The commands that run in the fresh environment: $1 work dir, $2 python,
# $3 wheel dir, $4 wheelhouse, $5... one requirement per fresh venv.
# wheel_smoke.py checks that the native module in use is the plugin the extra
# names (ALKAHEST_EXPECT_NATIVE).
CHECK='
    cd "$1"
    py="$2" wheels="$3" house="$4"
    shift 4
    for req in "$@"; do
      case "$req" in
        *"[jit]") native=alkahest-llvm ;;
        *"[full]") native=alkahest-full ;;
        *) native=alkahest ;;
      esac
      echo "== pip install $req (native module: $native)"
      rm -rf venv
      "$py" -m venv venv
      venv/bin/python -m pip install --quiet --no-index --disable-pip-version-check \
        --find-links "$wheels" --find-links "$house" "$req" pytest
      venv/bin/python -c "import sys, alkahest; print(alkahest.__file__, sys.version.split()[0])"
      ALKAHEST_EXPECT_NATIVE="$native" venv/bin/python wheel_smoke.py
      venv/bin/python -m pytest -q -p no:cacheprovider test_spec_examples.py
    done
'

# Without network when the kernel lets us (root, or unprivileged user
# namespaces); pip's --no-index holds either way.
NONET=()
if unshare -rn true 2>/dev/null; then
  NONET=(unshare -rn)
elif unshare -n true 2>/dev/null; then
  NONET=(unshare -n)
else
  log "cannot drop the network (no unshare); relying on pip --no-index"
fi
start=$SECONDS

if [[ -n "$ROOTFS" ]]; then
  [[ -x "$ROOTFS/usr/bin/python3" ]] || { log "no python3 in $ROOTFS"; exit 1; }
  WORK="$ROOTFS/tmp/alkahest-wheel-check"
  rm -rf "$WORK" && mkdir -p "$WORK/wheels" "$WORK/house"
  trap 'rm -rf "$WORK"; umount "$ROOTFS/proc" 2>/dev/null || true' EXIT
  cp "${whl[0]}" "${PLUGIN_WHEELS[@]}" "$WORK/wheels/"
  cp "$HOUSE"/*.whl "$WORK/house/"
  cp "$ROOT/tests/test_spec_examples.py" "$ROOT/scripts/wheel_smoke.py" "$WORK/"
  mountpoint -q "$ROOTFS/proc" || mount -t proc proc "$ROOTFS/proc"
  log "${REQS[*]} in $ROOTFS ($(chroot "$ROOTFS" /usr/bin/python3 -V), \
${NONET[*]:-network kept})"
  env -i HOME=/tmp PATH=/usr/local/bin:/usr/bin:/bin TMPDIR=/tmp/alkahest-wheel-check \
    "${NONET[@]}" "$(command -v chroot)" "$ROOTFS" /bin/bash -euo pipefail -c "$CHECK" _ \
    /tmp/alkahest-wheel-check /usr/bin/python3 /tmp/alkahest-wheel-check/wheels \
    /tmp/alkahest-wheel-check/house "${REQS[@]}"
  log "passed in $((SECONDS - start))s"
  exit 0
fi

# The interpreter itself, not a shim or a venv's link (env -i below drops
# what a pyenv shim or an active venv relies on).
REALPY="$("$PYTHON" -c 'import sys; print(getattr(sys, "_base_executable", "") or sys.executable)')"
case "$REALPY" in
  "$ROOT"/*) log "$REALPY is inside the project; use an interpreter outside it"; exit 1 ;;
esac

TMP="$(mktemp -d "${TMPDIR:-/tmp}/alkahest-wheel-check.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
cp "$ROOT/tests/test_spec_examples.py" "$ROOT/scripts/wheel_smoke.py" "$TMP/"

log "${REQS[*]}: each into a fresh venv ($REALPY, ${NONET[*]:-network kept})"
# A clean environment: nothing from the caller's venv or Python path leaks in,
# except ALKAHEST_LIBDEVICE (CUDA's libdevice.10.bc, which no wheel ships).
KEEP=()
[[ -n "${ALKAHEST_LIBDEVICE:-}" ]] && KEEP=("ALKAHEST_LIBDEVICE=$ALKAHEST_LIBDEVICE")
env -i HOME="$TMP" PATH=/usr/local/bin:/usr/bin:/bin TMPDIR="$TMP" "${KEEP[@]}" \
  "${NONET[@]}" bash -euo pipefail -c "$CHECK" _ "$TMP" "$REALPY" "$WHEELS" "$HOUSE" "${REQS[@]}"
log "passed in $((SECONDS - start))s"
