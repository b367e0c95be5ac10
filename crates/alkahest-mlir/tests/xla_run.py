"""Run StableHLO modules through XLA (jax's CPU backend).

Usage: python xla_run.py LISTING

LISTING has one case per line: `MODULE_PATH<TAB>POINTS`, where POINTS is
`;`-separated points and each point `,`-separated float64 arguments. For each
case the module text is parsed and verified in JAX's MLIR context, compiled
by the CPU backend and executed at every point; one output line per case
holds the results, space-separated, in `repr` form (a function with several
outputs gives them `,`-separated per point). Exit status 0 on success; a
parse, verify or compile failure is printed and exits 1.
"""

import sys

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
from jax._src.interpreters import mlir as jmlir  # noqa: E402
from jax._src.lib.mlir import ir  # noqa: E402
from jax.extend.backend import get_backend  # noqa: E402


def run_case(backend, devices, path, points):
    with open(path) as f:
        text = f.read()
    with jmlir.make_ir_context():
        module = ir.Module.parse(text)
        if not module.operation.verify():
            raise RuntimeError(f"{path}: module does not verify")
    exe = backend.compile_and_load(text, devices)
    out = []
    for p in points:
        bufs = [jax.device_put(np.asarray(v, dtype=np.float64)) for v in p]
        res = exe.execute(bufs)
        out.append(",".join(repr(float(np.asarray(r))) for r in res))
    return out


def main():
    backend = get_backend("cpu")
    devices = backend.local_devices()[:1]
    with open(sys.argv[1]) as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    for line in lines:
        path, pts = line.split("\t")
        points = [[float(v) for v in p.split(",") if v] for p in pts.split(";")]
        try:
            print(" ".join(run_case(backend, devices, path, points)), flush=True)
        except Exception as e:  # report which module failed, then fail
            print(f"FAILED {path}: {e}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
