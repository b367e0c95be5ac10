"""One smoke test per tier of an installed alkahest wheel (run by scripts/wheel_check.sh).

Run from outside the source tree, so ``import alkahest`` is the installed
wheel. Every tier the build reports in ``alkahest.features()`` compiles the
same expression with ``force_tier`` and must agree with ``eval_expr`` on a
batch and on a scalar call, and must really run on that tier (no silent
fallback); a 'cuda' build must emit PTX (running it needs a GPU, which
this check does not assume). ``ALKAHEST_EXPECT_NATIVE`` names the distribution
whose native module must be in use (``alkahest``, or the plugin an extra
installed: ``alkahest-llvm``, ``alkahest-full``). A backend that is missing must
say which pip extra adds it. Exits non-zero if any check fails.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

import alkahest as ak


def main() -> int:
    print(f"alkahest from {ak.__file__}")
    feats = ak.features()
    print(f"features: {feats}")
    if "site-packages" not in ak.__file__:
        print("FAIL: alkahest was not imported from an installed wheel")
        return 1
    pool = ak.ExprPool()
    x, y = pool.symbols("x y")
    e = ak.sin(x) * ak.exp(-y) + x**3 / (1 + y**2)
    xs = np.linspace(-2.0, 2.0, 10_001)
    ys = np.linspace(0.0, 3.0, 10_001)
    want = np.array(
        [ak.eval_expr(e, {x: a, y: b}) for a, b in zip(xs[::1000], ys[::1000], strict=True)]
    )
    expect = os.environ.get("ALKAHEST_EXPECT_NATIVE")
    native = str(feats.get("native", "")).split(" ")[0]
    if expect and native != expect:
        print(f"FAIL: the native module is {native!r}, not {expect!r}")
        return 1
    print(f"{'native':12s} ok ({feats.get('native')})")
    tiers = {"interpreter": "interpreter", "cranelift": "cranelift", "jit": "llvm", "mlir": "mlir"}
    failed = 0
    for feat, tier in tiers.items():
        if not feats.get(feat):
            print(f"{tier:12s} not in this build")
            continue
        # As written, except MLIR: it compiles the canonical form, so it does
        # not serve optimize="none" (that falls back, with a warning).
        cfg = ak.CompileConfig(force_tier=tier, optimize="speed" if tier == "mlir" else "none")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a fallback warns: that is a failure here
            try:
                f = ak.compile_expr(e, [x, y], cfg)
            except Exception as exc:  # noqa: BLE001 - report and go on to the next tier
                print(f"{tier:12s} FAIL: {type(exc).__name__}: {exc}")
                failed += 1
                continue
        got = ak.numpy_eval(f, xs, ys)[::1000]
        scalar = f([xs[0], ys[0]])
        ok = (
            f.tier == tier
            and np.allclose(got, want, rtol=1e-13, atol=0)
            and np.isclose(scalar, want[0], rtol=1e-13, atol=0)
        )
        print(f"{tier:12s} {'ok' if ok else 'FAIL'} (ran on {f.tier})")
        failed += not ok
    if feats.get("egraph"):
        # "accuracy" samples with MPFR ground truth: exercises the vendored GMP/MPFR.
        cfg = ak.CompileConfig(optimize="accuracy")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a missing optimizer warns
            f = ak.compile_expr(ak.log(1 + x) - ak.log(x), [x], cfg)
        ok = np.isclose(f([1e-3]), np.log1p(1e3), rtol=1e-12)
        print(f"{'egraph':12s} {'ok' if ok else 'FAIL'} (optimize='accuracy')")
        failed += not ok
    if feats.get("parallel"):
        f = ak.compile_expr(e, [x, y])
        ok = np.array_equal(ak.numpy_eval_par(f, xs, ys), ak.numpy_eval(f, xs, ys))
        print(f"{'parallel':12s} {'ok' if ok else 'FAIL'}")
        failed += not ok
    if feats.get("cuda"):
        try:
            ptx = ak.compile_cuda(x * x + 2 * y, [x, y]).ptx
        except ak.BackendUnavailableError as exc:
            # libdevice.10.bc is an outside file (nvidia-cuda-nvcc-cu12), not
            # part of any alkahest wheel: without it PTX cannot be emitted.
            if "libdevice" not in str(exc):
                raise
            print(f"{'cuda':12s} compiled in; PTX not checked: no libdevice.10.bc here")
        else:
            ok = ".entry" in ptx
            print(f"{'cuda':12s} {'ok (PTX emitted; not run)' if ok else 'FAIL'}")
            failed += not ok
    # A missing backend must say which extra to install, not how to develop alkahest.
    for feat, call in [
        ("mlir", lambda: ak.to_mlir(x * x, [x])),
        ("cuda", lambda: ak.compile_cuda(x * x, [x])),
    ]:
        if feats.get(feat):
            continue
        try:
            call()
        except ak.BackendUnavailableError as exc:
            ok = "make build" not in str(exc) and "alkahest[full]" in str(exc)
        else:
            ok = False
        print(f"{'no ' + feat:12s} {'ok (clear error)' if ok else 'FAIL: unclear or no error'}")
        failed += not ok
    if not feats.get("jit"):
        # A forced LLVM tier falls back, and the warning names the extra.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            f = ak.compile_expr(e, [x, y], ak.CompileConfig(force_tier="llvm"))
        said = " ".join(str(w.message) for w in caught)
        ok = f.tier != "llvm" and "alkahest[jit]" in said
        print(f"{'no llvm':12s} {'ok (fallback names the extra)' if ok else 'FAIL: ' + said}")
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
