"""Benchmarks: `jiesu bench intake|lifecycle|reports` (numbers printed and written to bench/results/)."""
