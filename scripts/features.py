#!/usr/bin/env python3
"""Choose the cargo features this machine can build, for the Makefile.

Candidate features are ``cranelift parallel egraph jit mlir cuda``. A feature is used
when (a) the crate in question declares it in its ``[features]`` table and
(b) this machine supports it:

* ``cranelift``, ``parallel``: always;
* ``egraph``: GMP and MPFR headers (Debian's libgmp-dev, libmpfr-dev);
* ``jit``:  LLVM 19 (``$LLVM_SYS_191_PREFIX/bin/llvm-config``, default
  ``/usr/lib/llvm-19``);
* ``mlir``: LLVM 19 and the MLIR C API (``libMLIRCAPIIR.a`` or a shared MLIR C
  library under ``$MLIR_SYS_190_PREFIX/lib``);
* ``cuda``: LLVM 19 built with the NVPTX target.

``ALKAHEST_FEATURES`` (space- or comma-separated) replaces the machine check
when set; set it empty to build with no optional feature. Declared-ness is still
checked, with a warning for names no crate declares.

Modes (output on stdout; a human-readable note goes to stderr):

  py                 features for crates/alkahest-py, space-separated
  pkg-features SET   ``crate/feature`` list, comma-separated, for the crates of
                     SET: ``default`` (the workspace's default-members) or
                     ``all`` (every member)
  combos CRATE       one line per declared feature of CRATE (not ``default``)
                     that can be checked here, for "each feature alone" checks
  supported          the features this machine supports (or the override)
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from pathlib import Path

CANDIDATES = ["cranelift", "parallel", "egraph", "jit", "mlir", "cuda"]
ROOT = Path(os.environ.get("ALKAHEST_ROOT", Path(__file__).resolve().parent.parent))

try:  # Python >= 3.11
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - older Pythons
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ModuleNotFoundError:
        _toml = None  # type: ignore[assignment]


def note(msg: str) -> None:
    print(f"features: {msg}", file=sys.stderr)


def _fallback_parse(text: str) -> dict:
    """Tiny reader for what we need when no TOML library exists:
    ``[features]`` keys and the workspace ``members``/``default-members`` arrays."""
    out: dict = {}
    section = None
    feats: dict = {}
    ws: dict = {}
    # Join multi-line arrays so `key = [ ... ]` is one logical line.
    text = re.sub(r"\[[^\[\]=]*\]", lambda m: m.group(0).replace("\n", " "), text)
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"\[\s*([A-Za-z0-9_.\"-]+)\s*\]", line)
        if m:
            section = m.group(1).replace('"', "")
            continue
        m = re.match(r'"?([A-Za-z0-9_.-]+)"?\s*=\s*(.*)$', line)
        if not m:
            continue
        key, value = m.group(1), m.group(2)
        if section == "features":
            feats[key] = re.findall(r'"([^"]*)"', value)
        elif section == "workspace" and key in ("members", "default-members"):
            ws[key] = re.findall(r'"([^"]*)"', value)
    if feats:
        out["features"] = feats
    if ws:
        out["workspace"] = ws
    return out


def load_toml(path: Path) -> dict:
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    if _toml is not None:
        try:
            return _toml.loads(data.decode("utf-8"))
        except Exception as exc:  # noqa: BLE001 - e.g. a file being edited concurrently
            note(f"cannot parse {path}: {exc}; falling back to a line reader")
    return _fallback_parse(data.decode("utf-8", "replace"))


def declared_features(crate_dir: Path) -> list[str]:
    feats = load_toml(crate_dir / "Cargo.toml").get("features", {})
    return [f for f in feats if f != "default"]


def crate_name(crate_dir: Path) -> str:
    pkg = load_toml(crate_dir / "Cargo.toml").get("package", {})
    return pkg.get("name") or crate_dir.name


def workspace_crates(which: str) -> list[Path]:
    ws = load_toml(ROOT / "Cargo.toml").get("workspace", {})
    patterns = ws.get("default-members") if which == "default" else None
    if not patterns:
        patterns = ws.get("members", ["crates/*"])
    dirs: list[Path] = []
    for pat in patterns:
        for d in sorted(glob.glob(str(ROOT / pat))):
            p = Path(d)
            if (p / "Cargo.toml").is_file() and p not in dirs:
                dirs.append(p)
    return dirs


def llvm_prefix() -> Path:
    return Path(os.environ.get("LLVM_SYS_191_PREFIX", "/usr/lib/llvm-19"))


def mlir_prefix() -> Path:
    return Path(os.environ.get("MLIR_SYS_190_PREFIX", "/usr/lib/llvm-19"))


def llvm_ok() -> bool:
    cfg = llvm_prefix() / "bin" / "llvm-config"
    if not os.access(cfg, os.X_OK):
        return False
    try:
        ver = subprocess.run(
            [str(cfg), "--version"], check=False, capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return ver.returncode == 0 and ver.stdout.strip().startswith("19.")


def mlir_ok() -> bool:
    lib = mlir_prefix() / "lib"
    if not (mlir_prefix() / "include" / "mlir-c" / "IR.h").is_file():
        return False
    return any(
        (lib / name).is_file() for name in ("libMLIRCAPIIR.a", "libMLIRCAPIIR.so", "libMLIR-C.so")
    )


def nvptx_ok() -> bool:
    cfg = llvm_prefix() / "bin" / "llvm-config"
    try:
        out = subprocess.run(
            [str(cfg), "--targets-built"], check=False, capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "NVPTX" in out.stdout.split()


def supported() -> list[str]:
    override = os.environ.get("ALKAHEST_FEATURES")
    if override is not None:
        feats = [f for f in re.split(r"[\s,]+", override.strip()) if f]
        note(f"ALKAHEST_FEATURES override: {' '.join(feats) or '(none)'}")
        return feats
    feats = ["cranelift", "parallel"]
    if os.path.exists("/usr/include/mpfr.h") and os.path.exists("/usr/include/x86_64-linux-gnu/gmp.h") or os.path.exists("/usr/include/gmp.h"):
        feats.append("egraph")
    else:
        note("egraph: GMP/MPFR headers (libgmp-dev, libmpfr-dev) missing; skipped")
    if llvm_ok():
        feats.append("jit")
        if mlir_ok():
            feats.append("mlir")
        else:
            note(f"mlir: no MLIR C API under {mlir_prefix()}; skipped")
        if nvptx_ok():
            feats.append("cuda")
        else:
            note("cuda: LLVM 19 lacks the NVPTX target; skipped")
    else:
        note(f"jit/mlir/cuda: no LLVM 19 llvm-config under {llvm_prefix()}; skipped")
    return feats


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    mode = argv[0]
    sup = supported()
    if mode == "supported":
        print(" ".join(sup))
        return 0
    if mode == "py":
        crate = ROOT / "crates" / "alkahest-py"
        declared = declared_features(crate)
        chosen = [f for f in sup if f in declared]
        dropped = [f for f in sup if f not in declared]
        if dropped and os.environ.get("ALKAHEST_FEATURES") is not None:
            note(f"alkahest-py does not declare {' '.join(dropped)}; ignored")
        note(f"alkahest-py features: {' '.join(chosen) or '(none)'}")
        print(" ".join(chosen))
        return 0
    if mode == "pkg-features":
        which = argv[1] if len(argv) > 1 else "default"
        out = []
        for crate in workspace_crates(which):
            declared = declared_features(crate)
            name = crate_name(crate)
            out += [f"{name}/{f}" for f in sup if f in declared]
        note(f"{which} members: {','.join(out) or '(none)'}")
        print(",".join(out))
        return 0
    if mode == "combos":
        if len(argv) < 2:
            print("combos needs a crate directory name", file=sys.stderr)
            return 2
        crate = ROOT / "crates" / argv[1]
        for f in declared_features(crate):
            # Candidate features this machine cannot build are left out; any
            # other declared feature is checked on its own.
            if f in CANDIDATES and f not in sup:
                continue
            print(f)
        return 0
    print(f"unknown mode {mode!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
