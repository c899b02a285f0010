"""Tooling: the dev stack behind `jiesu dev`, the process stack of the fault tests, the benches. Imported by nothing
but cli.py and the tests."""
