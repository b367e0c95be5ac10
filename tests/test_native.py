"""Backend plugins (`alkahest[jit]`, `alkahest[full]`): which native module runs.

`import alkahest` runs on the best installed plugin of its own version
(python/alkahest/_native.py). The plugin wheels themselves are built and
installed by `make wheels` / `make wheel-check`; here, fake plugin packages on
`PYTHONPATH` in a subprocess exercise the choice: a plugin that is this build's
own native module under the plugin's name is used, one of another version or
one that does not import is skipped with a warning naming the fix, and
`ALKAHEST_PLUGINS=0` ignores them.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import alkahest as ak

ROOT = Path(__file__).resolve().parents[1]


def _cargo_version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    m = re.search(r'\[workspace\.package\][^\[]*?\nversion = "([^"]+)"', text)
    assert m, "no [workspace.package] version in Cargo.toml"
    return m.group(1)


def test_extras_and_plugins_pin_this_version():
    tomllib = pytest.importorskip("tomllib")
    version = _cargo_version()
    base = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = base["project"]["optional-dependencies"]
    assert extras["jit"] == [f"alkahest-llvm=={version}"]
    assert extras["full"] == [f"alkahest-full=={version}"]
    for plugin, module in [("llvm", "alkahest_llvm"), ("full", "alkahest_full")]:
        proj = tomllib.loads((ROOT / "plugins" / plugin / "pyproject.toml").read_text())
        assert proj["project"]["dependencies"] == [f"alkahest=={version}"]
        assert proj["tool"]["maturin"]["module-name"] == f"{module}._alkahest"
        assert (ROOT / "plugins" / plugin / "python" / module / "__init__.py").is_file()


def test_features_names_the_native_module():
    native = ak.features()["native"]
    dist, version = native.split(" ")
    assert dist in {"alkahest", "alkahest-llvm", "alkahest-full"}
    assert version == ak.__version__
    # Every other entry is a backend flag.
    assert all(isinstance(v, bool) for k, v in ak.features().items() if k != "native")


def _installed() -> bool:
    try:
        return importlib.metadata.version("alkahest") == ak.__version__
    except importlib.metadata.PackageNotFoundError:
        return False


needs_metadata = pytest.mark.skipif(
    not _installed(), reason="plugins are matched against the installed alkahest's version"
)

PROBE = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import alkahest as ak
pool = ak.ExprPool()
x = pool.symbol("x")
f = ak.compile_expr(ak.sin(x) * x, [x])
print(json.dumps({
    "native": ak.features()["native"],
    "module": ak._alkahest_ext.__name__,
    "value": f([1.0]),
    "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
}))
"""


def _probe(tmp_path: Path, **env: str) -> dict:
    run_env = dict(os.environ, PYTHONPATH=str(tmp_path), **env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fake(tmp_path: Path, pkg: str, native_source: str | None = None) -> None:
    """A plugin package `pkg`: its native module is `native_source` (Python), or
    this build's own extension under the plugin's name (a symbolic link)."""
    d = tmp_path / pkg
    d.mkdir()
    (d / "__init__.py").write_text("")
    if native_source is not None:
        (d / "_alkahest.py").write_text(native_source)
    else:
        so = Path(ak._alkahest_ext.__file__)
        (d / so.name).symlink_to(so)


@needs_metadata
def test_a_plugin_of_this_version_replaces_the_base_module(tmp_path):
    _fake(tmp_path, "alkahest_llvm")
    got = _probe(tmp_path)
    assert got["native"] == f"alkahest-llvm {ak.__version__}"
    assert got["module"] == "alkahest_llvm._alkahest"
    assert got["value"] == pytest.approx(0.8414709848078965, rel=1e-15)
    assert got["warnings"] == []


@needs_metadata
def test_a_plugin_of_another_version_is_skipped_with_a_clear_warning(tmp_path):
    _fake(tmp_path, "alkahest_llvm", '__version__ = "0.0.1"\n')
    got = _probe(tmp_path)
    assert got["native"] == f"alkahest {ak.__version__}"
    assert got["module"] == "alkahest._alkahest"
    assert got["value"] == pytest.approx(0.8414709848078965, rel=1e-15)
    (w,) = got["warnings"]
    assert w.startswith("AlkahestWarning: ")
    assert "alkahest-llvm" in w and "0.0.1" in w and ak.__version__ in w
    assert f"pip install 'alkahest[jit]=={ak.__version__}'" in w


@needs_metadata
def test_a_broken_plugin_is_skipped_for_the_next_one(tmp_path):
    _fake(tmp_path, "alkahest_full", 'raise ImportError("libLLVM went missing")\n')
    _fake(tmp_path, "alkahest_llvm")
    got = _probe(tmp_path)
    assert got["native"] == f"alkahest-llvm {ak.__version__}"
    (w,) = got["warnings"]
    assert "alkahest-full" in w and "libLLVM went missing" in w and "alkahest[full]" in w


@needs_metadata
def test_plugins_can_be_turned_off(tmp_path):
    _fake(tmp_path, "alkahest_llvm")
    got = _probe(tmp_path, ALKAHEST_PLUGINS="0")
    assert got["native"] == f"alkahest {ak.__version__}"
    assert got["warnings"] == []
