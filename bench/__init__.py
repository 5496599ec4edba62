"""ClickLake benchmarks: `make bench` (or `python -m bench.run --help`); not collected by pytest."""
