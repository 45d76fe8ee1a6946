"""Hot-path micro-benchmarks (pytest-benchmark): `pytest benchmarks/micro --benchmark-only`.

Outside the default test run, so CI never times anything. `python -m benchmarks micro
--compare` runs them on the working tree and on a base commit, interleaved, and flags
regressions (benchmarks/micro_compare.py)."""
