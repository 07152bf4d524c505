"""Run the benchmarks: `python -m benchmarks` (all) or `python -m benchmarks week1 tokenization`."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks


def main(argv: list[str]) -> int:
    names = [m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")]
    wanted = [n for n in names if not argv or any(a in n for a in argv)]
    ok = True
    for name in sorted(wanted):
        module = importlib.import_module(f"benchmarks.{name}")
        ok = module.main() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
