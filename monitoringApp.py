#!/bin/sh
''''true
# POSIX sh reads these lines, Python reads them as a string: going straight to the project's
# virtualenv saves starting a second interpreter (or a pyenv shim) on every run.
case "$0" in */*) here=${0%/*} ;; *) here=. ;; esac
[ -x "$here/.venv/bin/python" ] && exec "$here/.venv/bin/python" "$0" "$@"
exec python3 "$0" "$@"
'''
# Entry point: `./monitoringApp.py -m` (see README.md). The string above is the module's
# docstring to Python and the launcher to sh.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PYTHON = os.path.join(HERE, ".venv", "bin", "python")

# Run from a checkout, use the project's virtualenv (made by `make install` or `make run`)
# rather than whatever the system interpreter happens to have installed.
if os.path.exists(VENV_PYTHON) and sys.prefix == sys.base_prefix:
    os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__), *sys.argv[1:]])

try:
    from monitor.cli import main
except ImportError as exc:
    sys.exit(f"Error: {exc.name or exc} is not installed; run `make install` first")

if __name__ == "__main__":
    main()
