#!/usr/bin/env python3
"""Entry point: `./monitoringApp.py -m` (see README.md)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PYTHON = os.path.join(HERE, ".venv", "bin", "python")

try:
    from monitor.cli import main
except ImportError as exc:
    # Run straight from a checkout: hop into the project's virtualenv (made by `make run`)
    # instead of failing on a missing dependency of the system interpreter.
    if os.path.exists(VENV_PYTHON) and os.path.realpath(sys.executable) != os.path.realpath(
        VENV_PYTHON
    ):
        os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__), *sys.argv[1:]])
    sys.exit(f"Error: {exc.name or exc}: not installed; run `make install` first")

if __name__ == "__main__":
    main()
