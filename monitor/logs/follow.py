"""Reading a log that is being written, as `tail -F` does, never losing or double-counting
a line; a standard input stream; and a finished file, fast (for --replay).

The rules of Follower (a poll is one call of Follower.poll):

Start. A file there at the start is read from its end (from_start=False), as `tail -f`
does. If its last byte is not a newline, a writer is half-way through a line whose
beginning we did not read: everything up to the next newline is skipped (not counted as a
line nor as oversized). A file that does not exist yet is waited for and, when it appears,
read from its start: it is new, every line counts.

A W3C log (IIS: its first line a `#` directive) read from its end: its latest `#Fields:`
line before that end comes out first, whole (the lines after it cannot be read without
it), then what is written from there on (see w3c_fields).

Lines. A line comes out once, whole, without its b"\\n" (a b"\\r" before it stays: the
parser drops it), in the poll that reads its newline; bytes after the last newline wait for
the rest. A line longer than max_line bytes is skipped and counted in `oversized`; its
pieces never come out as lines.

Rename rotation (logrotate's default). When os.stat(path) shows another file (device or
inode) than the one open, that file is opened and read from its start, and the old one
stays open: each poll reads the old file(s) first, then the new one, so the lines a writer
adds to the old file after the rename, until it reopens the path, are read once and in
order. An old file is closed at the end of a poll that found nothing new in it while the
file that replaced it already held data when that poll began (sizes are taken newest file
first, before any read): a writer that has written to the new file is done with the old
one, and a second writer (several worker processes) gets one more poll of grace. Until then
the old file is read at every poll, however long the new one stays empty (logrotate's
`create`, then a server that reopens its log late). When it is closed, a last line without
its newline (a writer killed mid-line) is returned as it is.

A path that vanishes (deleted, or renamed without `create`): the open file is still read
(a writer may still be appending to it) and the path is waited for; the file that appears
there next is new and read from its start. A file replaced by another one (shorter,
longer, empty, by `mv`) is a rename rotation like the above.

Copy and truncate. A file smaller than our offset was truncated: it is read again from its
start. Lines written between the copy and the truncate, and any not yet read when the
truncate came, are only in the copy: lost by the rotation itself (as with tail), nothing to
do here. A file truncated and then written past our offset between two polls is caught by
checking that the 64 bytes before our offset are still the ones we read there; the limit: a
rewrite that reproduces those 64 bytes exactly (or that has not yet grown past our offset)
is not noticed until it does not. A writer without O_APPEND goes on writing at its old
offset after the truncate, leaving a hole that reads as NUL bytes: NUL bytes at the start
of a truncated file are skipped.

Cost. A poll that finds nothing new is one os.stat and one os.fstat. Data is read with
os.pread in chunks of `chunk` bytes, at most `budget` bytes per poll (`behind` is then True:
poll again without waiting), so memory is bounded by max_line per open file plus one
poll's lines, whatever the file's size.

Errors. A directory or another kind of non-regular file at the path raises LogReadError
(following cannot work). Other failures (permission denied, I/O errors) are reported once
in `events` and retried at every poll; their end is reported too. What is said in `events`
that is no warning (a rotation, a truncation, a file awaited or found, a failure's end) is
a `Note`.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import queue
import re
import select
import stat
import threading
import zlib
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO

from monitor.core.errors import MonitorError

# Bytes before our offset remembered to notice a file rewritten under us.
_TAIL = 64
MAX_LINE = 1 << 20  # bytes of the longest line read; a longer one is skipped, and said


class Note(str):
    """Something said in `events` that is information (a rotation, a file appearing), not
    a warning: the monitor prints it plainly."""

    __slots__ = ()


class LogReadError(MonitorError):
    """A log that cannot be read at all: a directory, not a regular file, a missing file to
    replay."""


def oversized_text(count: int, max_line: int) -> str:
    """What is said of lines skipped for their length."""
    what = "line" if count == 1 else f"{count} lines"
    return f"{what} over {max_line} bytes skipped"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "it is a directory"
    names = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    kind = next((name for test, name in names if test(mode)), "of an unknown kind")
    return f"it is not a regular file but {kind}"


class _Lines:
    """Cuts bytes into lines: keeps the unfinished last one, skips those over max_line."""

    __slots__ = ("max_line", "partial", "skipping", "oversized")

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self.partial = bytearray()
        self.skipping = False  # discarding everything up to the next newline
        self.oversized = 0  # lines skipped since the owner last took the count

    def feed(self, data: bytes) -> list[bytes]:
        if self.skipping:
            end = data.find(b"\n")
            if end < 0:
                return []
            data = data[end + 1:]
            self.skipping = False
        lines = data.split(b"\n")
        rest = lines.pop()
        if lines:
            if self.partial:
                lines[0] = bytes(self.partial) + lines[0]
                self.partial.clear()
            # Only the first line can be longer than the data (it carries the partial).
            if len(lines[0]) > self.max_line or len(data) > self.max_line:
                kept = [line for line in lines if len(line) <= self.max_line]
                self.oversized += len(lines) - len(kept)
                lines = kept
        if len(self.partial) + len(rest) > self.max_line:
            self.oversized += 1
            self.skipping = True
            self.partial.clear()
        else:
            self.partial += rest
        return lines

    def flush(self) -> list[bytes]:
        """The unfinished last line as a line (the data has ended), if any."""
        last = [bytes(self.partial)] if self.partial and not self.skipping else []
        self.reset()
        return last

    def reset(self) -> None:
        self.partial.clear()
        self.skipping = False


class _File:
    """One open file of the follower, with our offset in it."""

    __slots__ = ("fd", "ident", "pos", "size", "tail", "lines", "skip_nul", "header")

    def __init__(self, fd: int, ident: tuple[int, int], pos: int, tail: bytes,
                 max_line: int) -> None:
        self.fd = fd
        self.ident = ident
        self.pos = pos  # bytes consumed
        self.size = 0  # st_size at this poll's fstat
        self.tail = tail  # the last bytes before pos, as read
        self.lines = _Lines(max_line)
        self.skip_nul = False
        self.header: bytes | None = None  # a line from before pos to come out first


class Follower:
    """Follows the log at `path` through appends, rotations and absence (see the module's
    docstring for the exact rules). Not thread-safe: one caller polls."""

    def __init__(self, path: str | os.PathLike[str], from_start: bool = False, *,
                 max_line: int = MAX_LINE, chunk: int = 1 << 16, budget: int = 1 << 22) -> None:
        if min(max_line, chunk, budget) < 1:
            raise ValueError("max_line, chunk and budget must be positive")
        self.path = os.fspath(path)
        self.events: list[str] = []
        self.oversized = 0
        self.behind = False  # the last poll stopped at its budget: poll again at once
        self._max_line = max_line
        self._chunk = chunk
        self._budget = budget
        self._files: list[_File] = []  # oldest first; the last one is the path's
        self._waiting = False
        self._problem: str | None = None  # the failure last reported, until it ends
        self._failed = False  # a failure during this poll
        self._skipped = 0  # oversized lines during this poll
        self._closed = False
        # from_start=False: the file there now is read from this size (kept until it can
        # be opened, should that fail now).
        self._at_end: tuple[tuple[int, int], int] | None = None
        if "\0" in self.path:
            raise LogReadError(f"cannot follow {self.path!r}: a NUL byte in the path")
        st = self._stat()
        if st is not None:
            if not from_start:
                self._at_end = ((st.st_dev, st.st_ino), st.st_size)
            self._open()
        self._end_poll()

    def poll(self) -> list[bytes]:
        """The complete lines written since the last poll, in order; never blocks."""
        if self._closed:
            return []
        self.behind = False
        self._look()
        files = self._files
        # Newest first: an old file's size is taken after its successor's, so a successor
        # found non-empty was written after everything the old file's size includes.
        for f in reversed(files):
            try:
                f.size = os.fstat(f.fd).st_size
            except OSError as exc:
                self._fail(f"cannot read {self.path}: {_reason(exc)}")
                f.size = f.pos
        out: list[bytes] = []
        budget = self._budget
        i = 0
        while i < len(files):
            f = files[i]
            got, budget = self._read(f, out, budget)
            if (i < len(files) - 1 and got == 0 and f.pos >= f.size
                    and files[i + 1].size > 0):
                out.extend(f.lines.flush())
                os.close(f.fd)
                del files[i]
                continue
            i += 1
        self._end_poll()
        return out

    def close(self) -> None:
        """Closes the open files; poll() then returns nothing."""
        self._closed = True
        for f in self._files:
            os.close(f.fd)
        self._files.clear()

    def __del__(self) -> None:
        # Raw descriptors are not closed by the garbage collector.
        with contextlib.suppress(Exception):
            self.close()

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- the path

    def _stat(self) -> os.stat_result | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._wait()
            return None
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise LogReadError(f"cannot follow {self.path}: {_reason(exc)}") from None
            self._fail(f"cannot read {self.path}: {_reason(exc)}")
            return None
        if not stat.S_ISREG(st.st_mode):
            raise LogReadError(f"cannot follow {self.path}: {_kind(st.st_mode)}")
        return st

    def _look(self) -> None:
        """Opens the file at the path if it is not the one being read."""
        st = self._stat()
        if st is None:
            return
        if any(f.ident == (st.st_dev, st.st_ino) for f in self._files):
            self._found()
            return
        self._open()

    def _open(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            self._wait()
            return
        except OSError as exc:
            self._fail(f"cannot read {self.path}: {_reason(exc)}")
            return
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise LogReadError(f"cannot follow {self.path}: {_kind(st.st_mode)}")
            ident = (st.st_dev, st.st_ino)
            if any(f.ident == ident for f in self._files):  # replaced back in between
                os.close(fd)
                self._found()
                return
            pos, tail, skip_first = self._start(fd, ident, st.st_size)
            header = w3c_fields(fd, pos) if pos else None
        except OSError as exc:
            os.close(fd)
            self._fail(f"cannot read {self.path}: {_reason(exc)}")
            return
        except LogReadError:
            os.close(fd)
            raise
        f = _File(fd, ident, pos, tail, self._max_line)
        f.lines.skipping = skip_first
        f.header = header
        if self._files and not self._waiting:
            self.events.append(Note("rotated (renamed): reading the new file"))
        self._found()
        self._files.append(f)
        self._at_end = None

    def _start(self, fd: int, ident: tuple[int, int], size: int) -> tuple[int, bytes, bool]:
        """Where to start in a newly opened file: its start, or the end it had when we
        began (from_start=False), skipping the rest of a line begun before."""
        if self._at_end is None or self._at_end[0] != ident or size < self._at_end[1]:
            return 0, b"", False
        pos = self._at_end[1]
        back = min(pos, _TAIL)
        tail = os.pread(fd, back, pos - back) if back else b""
        if len(tail) != back:  # truncated since the fstat
            return 0, b"", False
        return pos, tail, bool(tail) and tail[-1:] != b"\n"

    def _wait(self) -> None:
        if not self._waiting:
            self._waiting = True
            self.events.append(Note(f"waiting for {self.path} to exist"))

    def _found(self) -> None:
        if self._waiting:
            self._waiting = False
            self.events.append(Note(f"{self.path} exists: reading"))

    def _fail(self, message: str) -> None:
        self._failed = True
        if message != self._problem:
            self._problem = message
            self.events.append(f"{message}; retrying at every poll")

    def _end_poll(self) -> None:
        if self._skipped:
            self.events.append(oversized_text(self._skipped, self._max_line))
            self._skipped = 0
        if self._problem is not None and not self._failed:
            self.events.append(Note(f"{self.path}: readable again"))
            self._problem = None
        self._failed = False

    # -- reading

    def _read(self, f: _File, out: list[bytes], budget: int) -> tuple[int, int]:
        """Reads f from our offset to the size its fstat gave, within budget."""
        if f.header is not None:
            out.append(f.header)
            f.header = None
        if f.size < f.pos:
            self._truncated(f)
        got = 0
        while f.pos < f.size and budget > 0:
            want = min(self._chunk, f.size - f.pos, budget)
            back = len(f.tail)
            try:
                data = os.pread(f.fd, want + back, f.pos - back)
            except OSError as exc:
                self._fail(f"cannot read {self.path}: {_reason(exc)}")
                break
            if back:
                if data[:back] != f.tail:  # rewritten under us
                    self._truncated(f)
                    continue
                data = data[back:]
            if not data:  # shrunk since the fstat: the next poll sees it
                break
            f.pos += len(data)
            got += len(data)
            budget -= len(data)
            f.tail = data[-_TAIL:] if len(data) >= _TAIL else (f.tail + data)[-_TAIL:]
            if f.skip_nul:
                stripped = data.lstrip(b"\0")
                if not stripped:
                    continue
                data = stripped
                f.skip_nul = False
            out.extend(f.lines.feed(data))
            if f.lines.oversized:
                self.oversized += f.lines.oversized
                self._skipped += f.lines.oversized
                f.lines.oversized = 0
        if f.pos < f.size:
            self.behind = True
        return got, budget

    def _truncated(self, f: _File) -> None:
        # The unfinished line of the old content ends in the copy: dropped.
        f.pos = 0
        f.tail = b""
        f.lines.reset()
        f.skip_nul = True
        self.events.append(Note("truncated (copytruncate): reading from its start"))


class StreamLines:
    """The lines of a binary stream (standard input: sys.stdin.buffer), read by a daemon
    thread into a bounded queue (a slow consumer makes the writer wait, memory stays
    bounded); poll() returns what has arrived, the last line even without a final newline.
    close() cannot interrupt a read in progress: the daemon thread ends with its stream or
    the process."""

    def __init__(self, stream: BinaryIO, *, max_line: int = MAX_LINE,
                 chunk: int = 1 << 16, queued: int = 64) -> None:
        self.events: list[str] = []
        self.oversized = 0
        self.behind = False  # the last poll left data queued: poll again at once
        name = getattr(stream, "name", None)
        self._name = name if isinstance(name, str) else "the stream"
        self._lines = _Lines(max_line)
        # bytes: data; str: a read error; None: the end.
        self._queue: queue.Queue[bytes | str | None] = queue.Queue(maxsize=queued)
        self._stop = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._run, args=(stream, chunk),
                                        name="log-stream", daemon=True)
        self._thread.start()

    @property
    def ended(self) -> bool:
        """True once the end of the stream was read and every line returned."""
        return self._ended

    def poll(self) -> list[bytes]:
        out: list[bytes] = []
        self.behind = False
        if self._ended:
            return out
        for _ in range(self._queue.maxsize):
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                out.extend(self._lines.flush())
                self._ended = True
                break
            if isinstance(item, str):
                self.events.append(item)
                continue
            out.extend(self._lines.feed(item))
        else:
            self.behind = not self._queue.empty()
        if self._lines.oversized:
            skipped = self._lines.oversized
            self.oversized += skipped
            self._lines.oversized = 0
            self.events.append(oversized_text(skipped, self._lines.max_line))
        return out

    def close(self) -> None:
        self._stop.set()
        self._ended = True

    def _run(self, stream: BinaryIO, chunk: int) -> None:
        read = getattr(stream, "read1", None) or stream.read
        while not self._stop.is_set():
            try:
                data = read(chunk)
            except (OSError, ValueError) as exc:
                reason = _reason(exc) if isinstance(exc, OSError) else str(exc)
                self._put(f"cannot read {self._name}: {reason}")
                break
            if data is None:  # a non-blocking stream with nothing yet
                self._wait_readable(stream)
                continue
            if not data:
                break
            self._put(bytes(data))
        self._put(None)

    def _put(self, item: bytes | str | None) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self._queue.put(item, timeout=0.5)
                return

    def _wait_readable(self, stream: BinaryIO) -> None:
        try:
            select.select([stream.fileno()], [], [], 0.5)
        except (OSError, ValueError):
            self._stop.wait(0.05)


GZIP_MAGIC = b"\x1f\x8b"


_FIELDS = re.compile(rb"^#fields:[^\n]*\n", re.IGNORECASE | re.MULTILINE)
FIELDS_BACK = 64 << 20  # bytes searched back for a W3C log's #Fields line, at most
FIELDS_HEAD = 64 << 10  # ... then the first of its head


def w3c_fields(fd: int, end: int, *, chunk: int = 1 << 20) -> bytes | None:
    """The latest whole `#Fields:` line before offset `end` of the W3C log open at `fd`
    (without its newline), when the file is one: it begins with a `#` directive, as IIS
    writes them at the top of each file (a Common log never does: nothing is searched).
    Searched back in chunks, FIELDS_BACK bytes at most; past that, the first of the
    file's first FIELDS_HEAD bytes."""
    if end <= 0 or os.pread(fd, 1, 0) != b"#":
        return None
    pos, carry = end, b""  # carry: the start of the line cut by the last chunk's start
    while pos > 0 and end - pos < FIELDS_BACK:
        start = max(0, pos - chunk)
        data = os.pread(fd, pos - start, start) + carry
        found = None
        for match in _FIELDS.finditer(data):
            # At the chunk's start a match is a line's start only at the file's.
            if match.start() > 0 or start == 0:
                found = match
        if found is not None:
            return found.group()[:-1]
        cut = data.find(b"\n")
        carry = data[:cut + 1] if cut >= 0 and cut < MAX_LINE else b""
        pos = start
    if pos > 0:
        first = _FIELDS.search(os.pread(fd, min(FIELDS_HEAD, pos), 0))
        return first.group()[:-1] if first else None
    return None


def gzipped(path: str) -> bool:
    """Whether the regular file at `path` is gzip-compressed (False when it cannot be
    read: the follower says why)."""
    if not os.path.isfile(path):  # opening a FIFO would wait for its writer
        return False
    try:
        with open(path, "rb") as file:
            return file.read(2) == GZIP_MAGIC
    except OSError:
        return False


class FileLines(Iterator[list[bytes]]):
    """Batches of complete lines of a finished file, the last one even without a final
    newline; memory bounded by chunk + max_line. Lines over max_line are skipped and
    counted in `oversized`. A gzip file (told by its first bytes, whatever its name:
    logrotate compresses the rotated logs) is read uncompressed, as a stream."""

    def __init__(self, path: str | os.PathLike[str], chunk: int, max_line: int) -> None:
        if min(chunk, max_line) < 1:
            raise ValueError("chunk and max_line must be positive")
        self.path = os.fspath(path)
        self.oversized = 0
        self._chunk = chunk
        self._lines = _Lines(max_line)
        self._file: io.FileIO | gzip.GzipFile | None = None
        self._raw: io.FileIO | None = None  # the file under a GzipFile
        try:
            raw = io.FileIO(self.path, "r")
        except (OSError, ValueError) as exc:
            reason = _reason(exc) if isinstance(exc, OSError) else str(exc)
            raise LogReadError(f"cannot read {self.path}: {reason}") from None
        self._file = raw
        try:
            self.compressed = os.pread(raw.fileno(), 2, 0) == GZIP_MAGIC
        except OSError as exc:
            if exc.errno != errno.ESPIPE:  # a pipe (`<(zcat ...)`) is read as it comes
                self.close()
                raise LogReadError(f"cannot read {self.path}: {_reason(exc)}") from None
            self.compressed = False
        if self.compressed:
            self._file = gzip.GzipFile(fileobj=raw, mode="rb")
            self._raw = raw

    def __next__(self) -> list[bytes]:
        while self._file is not None:
            try:
                data = self._file.read(self._chunk)
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:  # cut short or damaged
                self.close()
                raise LogReadError(f"cannot read {self.path}: gzip data {_gzip_reason(exc)}"
                                   ) from None
            except OSError as exc:
                self.close()
                raise LogReadError(f"cannot read {self.path}: {_reason(exc)}") from None
            if not data:
                self.close()
                last = self._lines.flush()
                if last:
                    return last
                break
            lines = self._lines.feed(data)
            self.oversized += self._lines.oversized
            self._lines.oversized = 0
            if lines:
                return lines
        raise StopIteration

    def close(self) -> None:
        if self._file is not None:
            self._file.close()  # a GzipFile leaves the file under it open
            self._file = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None


def _gzip_reason(exc: Exception) -> str:
    if isinstance(exc, EOFError):
        return "cut short (the file ends before its compressed data does)"
    return f"damaged ({exc})"


def read_file(path: str | os.PathLike[str], *, chunk: int = 1 << 20,
              max_line: int = MAX_LINE) -> FileLines:
    """A finished file's lines, fast, in batches (for --replay). Raises LogReadError at
    once if the file cannot be opened (missing, a directory, permission denied)."""
    return FileLines(path, chunk, max_line)
