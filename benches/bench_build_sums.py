"""Building a long sum or product term by term (issue 15).

``s = s + t`` in a Python loop, ``builtin sum(terms)``, ``p = p * t`` and
the one-step ``alkahest.add(*terms)`` (where the build has it),
for n terms each a fresh symbol times a small integer (so no two terms
share a node). Prints the best of --reps wall-clock seconds per size, the
pool's node count after the build, and the pool file's size in bytes
(``ExprPool.to_bytes()``: every node with its operand list, so it grows
with the child slots the build left behind).

Before issue 15 every ``+`` re-flattened the whole sum: quadratic time and
quadratic pool memory. Sizes whose estimated old-code cost is minutes can be
left out with --sizes.

Usage: python benches/bench_build_sums.py [--sizes 1000,10000,100000] [--reps 3]
"""

from __future__ import annotations

import argparse
import time

import alkahest as ak


def build(kind: str, n: int):
    pool = ak.ExprPool()
    xs = [pool.symbol(f"x{i}") for i in range(n)]
    terms = [(i % 7 + 2) * x for i, x in enumerate(xs)]
    t0 = time.perf_counter()
    if kind == "loop +":
        s = terms[0]
        for t in terms[1:]:
            s = s + t
    elif kind == "sum()":
        s = sum(terms)
    elif kind == "add(*)":
        s = ak.add(*terms)
    else:  # "loop *"
        s = xs[0]
        for x in xs[1:]:
            s = s * x
    dt = time.perf_counter() - t0
    return dt, pool, s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-bytes", action="store_true", help="skip the pool-file size")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'build':8} {'terms':>8} {'best s':>9} {'nodes':>9} {'pool bytes':>12}")
    kinds = ["loop +", "sum()", "loop *"] + (["add(*)"] if hasattr(ak, "add") else [])
    for kind in kinds:
        for n in sizes:
            best, pool = float("inf"), None
            for _ in range(args.reps):
                dt, pool, _s = build(kind, n)
                best = min(best, dt)
            size = "-" if args.no_bytes else str(len(pool.to_bytes()))
            print(f"{kind:8} {n:>8} {best:>9.3f} {len(pool):>9} {size:>12}", flush=True)


if __name__ == "__main__":
    main()
