"""Side-by-side benchmarks: `make bench` (or `python -m benchmarks [NAME…]`) runs every `bench_*.py`."""
