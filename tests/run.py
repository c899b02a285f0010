"""Run pytest and leave with os._exit so the Temporal SDK cannot crash CPython at exit (sdk-python #300)."""

import os
import sys

import pytest

if __name__ == "__main__":
    status = pytest.main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(status))
