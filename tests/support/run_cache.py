"""What every pytest-xdist worker of a run would make alike, at a cost of seconds (a server's
initialized folder, a history written through a real writer): made once, by the first
worker that needs it, while the others wait for it under a lock, then copied or read by
each. It lives in the run's temporary folder (pytest's, shared by the run's workers) and
goes with it; a run without workers makes it in its own, once too."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this run: a worker's temporary folder is one of its (popen-gw0...)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str,
              make: Callable[[Path], None]) -> Path:
    """The run's folder `name`, filled by `make(folder)` the first time one of the run's
    processes asks for it (the others wait until it is made). Its users read it or copy
    from it, never change it. A `make` that failed is made again by the next asking."""
    folder = run_folder(tmp_path_factory) / name
    with open(f"{folder}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        done = folder / ".made"
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed make left
            folder.mkdir()
            make(folder)
            done.touch()
    return folder
