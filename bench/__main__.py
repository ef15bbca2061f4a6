"""Run the benchmarks: ``python -m bench [NAME ...]``.

Each ``bench/bench_<name>.py`` has a ``main()`` that measures one capability side by side with the
anchor it must beat, in this same process, and prints the figures.  ``spark`` is only run when named
(``make bench-spark``) because it starts a JVM.
"""

from __future__ import annotations

import importlib
import sys
import time

DEFAULT = ["fpe", "pii", "free_text", "generate", "pipeline", "risk"]


def main(argv: list[str]) -> int:
    names = argv or DEFAULT
    for name in names:
        try:
            module = importlib.import_module(f"bench.bench_{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.bench_{name}":
                print(f"== {name}: no benchmark module yet", flush=True)
                continue
            raise
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        module.main()
        print(f"   ({name} took {time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
