"""One monitor per database: two would store and send every alert twice and overwrite each
other's aggregates. The monitor holds an exclusive flock on `<database>.lock` (its pid
inside) while it runs; the kernel lets go when the process ends, even by kill -9, so a lock
left by a crash never blocks a restart. Short writers (`maintenance on`, `--purge`) do not
take it: they write beside a running monitor by design.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from monitor.core.errors import StoreError

# The lock files this process holds: its own monitor's database is not "another's".
_HELD: set[Path] = set()


def _lock_path(database: str | Path) -> Path:
    # Beside the real file: a symlink to the database must find the same lock.
    return Path(f"{os.path.realpath(database)}.lock")


def other_owner(database: str | Path) -> str | None:
    """Who else runs a monitor on `database` ("pid N", "another process"), or None."""
    path = _lock_path(database)
    if path in _HELD:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None  # no lock file: no monitor of this version or later has run on it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            holder = _read_pid(fd)
            return f"pid {holder}" if holder else "another process"
        return None
    finally:
        os.close(fd)  # also lets go of the shared lock, if it was taken
    return None


class DatabaseOwner:
    """The claim of one running monitor on a database; `release()` or the exit ends it."""

    def __init__(self, database: str | Path) -> None:
        self.path = _lock_path(database)
        self.held = False
        self._fd = -1
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                return  # a full disk: the monitor must start all the same (not `held`)
            raise StoreError(f"{self.path}: cannot create the lock file: {exc.strerror}"
                             ) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                # A file system without flock (some network and FUSE mounts): not `held`.
                os.close(self._fd)
                self._fd = -1
                return
            holder = _read_pid(self._fd)
            os.close(self._fd)
            who = f"pid {holder}" if holder else "another process"
            raise StoreError(f"{database} is in use by another monitor ({who}); stop it"
                             " first or give this one another -db") from None
        self.held = True
        _HELD.add(self.path)
        with contextlib.suppress(OSError):  # the pid only names us; a full disk may refuse
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)  # no stale pid for the next reader to name
            os.close(self._fd)  # closing the description releases the flock
            self._fd = -1
            _HELD.discard(self.path)


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip())
    return None
