#!/usr/bin/env bash
# Install what the build and the tests need, skipping each step whose inputs
# are unchanged since it last succeeded (stamp files under .stamps/).
#
#   1. Debian packages (LLVM/MLIR 19 and friends), only those missing.
#   2. A virtualenv at .venv with requirements-dev.txt.
#   3. A check that rustfmt and clippy are there.
#
# Building the extension is `make build` (always run; cargo is incremental).
#
# Environment:
#   PYTHON             interpreter for the venv (default: python3)
#   ALKAHEST_NO_APT=1  never call apt-get (report missing packages and go on)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

STAMPS="$ROOT/.stamps"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
REQ="$ROOT/requirements-dev.txt"

APT_PACKAGES=(
  llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools libclang-19-dev libpolly-19-dev
  libz3-dev zlib1g-dev libzstd-dev libxml2-dev libffi-dev g++ gcc
  libgmp-dev libmpfr-dev
)

log() { printf '[setup] %s\n' "$*" >&2; }

hash_of() { # hash of the given strings/files, for stamp names
  { for a in "$@"; do
      if [[ -f "$a" ]]; then cat -- "$a"; else printf '%s\n' "$a"; fi
    done; } | sha256sum | cut -c1-16
}

mkdir -p "$STAMPS"

# ---------------------------------------------------------------- 1. apt
apt_step() {
  local stamp
  stamp="$STAMPS/apt-$(hash_of "${APT_PACKAGES[@]}")"
  if [[ -f "$stamp" ]]; then
    return 0
  fi
  local missing=() pkg status
  for pkg in "${APT_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)"
    # "ii " = installed; anything else (absent, half-installed, config-files) is missing.
    if [[ "$status" != ii* ]]; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]})); then
    if [[ "${ALKAHEST_NO_APT:-0}" == 1 ]]; then
      log "missing Debian packages (ALKAHEST_NO_APT=1, not installing): ${missing[*]}"
      return 0
    fi
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
      if command -v sudo >/dev/null; then sudo=(sudo); else
        log "missing Debian packages and not root: ${missing[*]}"; return 1
      fi
    fi
    log "installing Debian packages: ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends "${missing[@]}"
  else
    log "Debian packages: all ${#APT_PACKAGES[@]} present"
  fi
  rm -f "$STAMPS"/apt-*
  touch "$stamp"
}

# ---------------------------------------------------------------- 2. venv
venv_ok() { # usable, and made from the same Python version ($1)
  [[ -x "$VENV/bin/python" ]] || return 1
  local v
  v="$("$VENV/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)" \
    || return 1
  [[ "$v" == "$1" ]]
}

venv_step() {
  local pyver stamp
  if ! pyver="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"; then
    log "cannot run $PYTHON"; return 1
  fi
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    log "$PYTHON is $pyver; need Python >= 3.10"; return 1
  fi
  stamp="$STAMPS/venv-$(hash_of "$REQ" "$pyver" "$VENV")"
  if [[ -f "$stamp" ]] && venv_ok "$pyver"; then
    return 0
  fi
  if ! venv_ok "$pyver"; then
    rm -rf "$VENV"
    log "creating $VENV with $PYTHON ($pyver)"
    if ! "$PYTHON" -m venv "$VENV"; then
      # Debian's own python3 needs python3-venv for ensurepip.
      rm -rf "$VENV"
      if [[ "$(id -u)" == 0 && "${ALKAHEST_NO_APT:-0}" != 1 ]] && command -v apt-get >/dev/null; then
        local short="${pyver%.*}"
        log "venv failed; installing python${short}-venv"
        env DEBIAN_FRONTEND=noninteractive apt-get update -q
        env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "python${short}-venv" \
          || env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
        "$PYTHON" -m venv "$VENV"
      else
        return 1
      fi
    fi
  fi
  log "installing Python packages from requirements-dev.txt"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
  rm -f "$STAMPS"/venv-*
  touch "$stamp"
}

# ---------------------------------------------------------------- 3. rust tools
rust_step() {
  local missing=()
  cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
  cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
  if ((${#missing[@]})); then
    log "missing rust components: ${missing[*]}; trying rustup"
    rustup component add "${missing[@]}" || { log "could not add ${missing[*]}"; return 1; }
  fi
}

start=$SECONDS
command -v cargo >/dev/null || { log "cargo not found on PATH"; exit 1; }
apt_step
venv_step
rust_step
log "done in $((SECONDS - start))s"
