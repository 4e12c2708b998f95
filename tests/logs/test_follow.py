"""monitor.logs.follow against real files written by real threads and processes: appends,
partial lines, both kinds of rotation under a writer at full speed, absence, oversized
lines, permissions, streams (pipes, a child's stdout) and finished files."""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from monitor.core.errors import MonitorError
from monitor.logs.follow import Follower, LogReadError, StreamLines, read_file

TRUNCATED = "truncated (copytruncate): reading from its start"
ROTATED = "rotated (renamed): reading the new file"


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def drain(f: Follower | StreamLines, want: int, deadline: float = 20.0) -> list[bytes]:
    """Polls until `want` lines arrived or the deadline passed (a writer runs elsewhere)."""
    got: list[bytes] = []
    end = time.monotonic() + deadline
    while len(got) < want and time.monotonic() < end:
        new = f.poll()
        got += new
        if not new:
            time.sleep(0.0005)  # let the writer run; correctness never depends on it
    return got


def take_events(f: Follower | StreamLines) -> list[str]:
    events = list(f.events)
    f.events.clear()
    return events


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# -- appends, start, partial lines


def test_appends_from_the_end(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"old 1\nold 2\n")
    f = Follower(path)
    assert f.poll() == []
    append(path, b"new 1\nnew 2\r\n")
    assert f.poll() == [b"new 1", b"new 2\r"]
    assert f.poll() == []
    append(path, b"new 3\n")
    assert f.poll() == [b"new 3"]
    assert f.events == [] and f.oversized == 0
    f.close()


def test_from_start_reads_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"old 1\nold 2\nhalf")
    f = Follower(path, from_start=True)
    assert f.poll() == [b"old 1", b"old 2"]
    append(path, b" done\n")
    assert f.poll() == [b"half done"]
    f.close()


def test_partial_line_at_start_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"whole\nbegun before us")
    f = Follower(path)
    append(path, b" and ended after\n")
    assert f.poll() == []
    append(path, b"next\n")
    assert f.poll() == [b"next"]
    assert f.oversized == 0 and f.events == []
    f.close()


def test_partial_line_at_start_ending_in_a_later_write(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"begun")
    f = Follower(path)
    append(path, b" still")
    assert f.poll() == []
    append(path, b" going\nfirst\nsec")
    assert f.poll() == [b"first"]
    append(path, b"ond\n")
    assert f.poll() == [b"second"]
    f.close()


def test_line_split_across_writes(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    f = Follower(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(fd, b'127.0.0.1 - - "GET /api/us')
    assert f.poll() == []
    os.write(fd, b'er HTTP/1.0" 200 12\n')
    assert f.poll() == [b'127.0.0.1 - - "GET /api/user HTTP/1.0" 200 12']
    assert f.poll() == []
    os.close(fd)
    f.close()


def test_lines_across_small_chunks_and_the_budget(tmp_path: Path) -> None:
    rng = random.Random(7)
    lines = [bytes(rng.choice(b"abc ") for _ in range(rng.randint(0, 40))) for _ in range(500)]
    path = tmp_path / "access.log"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    f = Follower(path, from_start=True, chunk=7, budget=1000)
    first = f.poll()
    assert f.behind
    assert 0 < sum(len(line) + 1 for line in first) <= 1000
    got = first
    polls = 1
    while f.behind:
        got += f.poll()
        polls += 1
    assert got == lines
    assert polls == -(-path.stat().st_size // 1000)
    assert f.poll() == [] and not f.behind
    f.close()


# -- absence, deletion, replacement


def test_file_that_does_not_exist_yet(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    f = Follower(path)
    assert take_events(f) == [f"waiting for {path} to exist"]
    assert f.poll() == [] and f.poll() == []
    assert f.events == []
    path.write_bytes(b"first\nsecond\nthi")
    assert f.poll() == [b"first", b"second"]  # a new file: every line counts
    assert take_events(f) == [f"{path} exists: reading"]
    append(path, b"rd\n")
    assert f.poll() == [b"third"]
    f.close()


def test_deleted_then_recreated(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    writer = os.open(path, os.O_WRONLY | os.O_APPEND)
    f = Follower(path)
    os.write(writer, b"a\n")
    assert f.poll() == [b"a"]
    path.unlink()
    assert f.poll() == []
    assert take_events(f) == [f"waiting for {path} to exist"]
    os.write(writer, b"late\n")  # the writer has not noticed: its lines still count
    assert f.poll() == [b"late"]
    assert f.poll() == [] and f.events == []
    path.write_bytes(b"n1\n")
    # The old file was quiet and the new one held data: the old one is done.
    assert f.poll() == [b"n1"]
    assert take_events(f) == [f"{path} exists: reading"]
    os.write(writer, b"too late\n")
    assert f.poll() == []
    os.close(writer)
    f.close()


@pytest.mark.parametrize("replacement", [b"", b"short\n", b"".join(b"line %d\n" % i
                                                                  for i in range(50))])
def test_replaced_by_a_shorter_longer_or_empty_file(tmp_path: Path, replacement: bytes) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"x" * 100 + b"\n")
    f = Follower(path)
    append(path, b"before\n")
    assert f.poll() == [b"before"]
    other = tmp_path / "other"
    other.write_bytes(replacement)
    os.replace(other, path)
    assert f.poll() == replacement.splitlines()
    assert take_events(f) == [ROTATED]
    append(path, b"after\n")
    assert f.poll() == [b"after"]
    f.close()


def test_rename_rotation_reads_the_old_file_to_its_end_first(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    old = os.open(path, os.O_WRONLY | os.O_APPEND)
    f = Follower(path)
    os.write(old, b"1\n")
    assert f.poll() == [b"1"]
    os.rename(path, tmp_path / "access.log.1")
    path.write_bytes(b"")  # logrotate's create
    os.write(old, b"2\n")  # the writer has not reopened yet
    assert f.poll() == [b"2"]
    assert take_events(f) == [ROTATED]
    os.write(old, b"3\n")
    assert f.poll() == [b"3"]
    assert f.poll() == []  # the new file is empty: the old one stays open
    os.write(old, b"4\n")
    new = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(new, b"5\n")
    # Both in one poll, the old file's first; it gave data: kept one more poll.
    assert f.poll() == [b"4", b"5"]
    os.write(old, b"6\n")  # a second writer, slower
    assert f.poll() == [b"6"]
    assert f.poll() == []  # quiet while the new file held data: closed now
    os.write(old, b"7\n")
    os.write(new, b"8\n")
    assert f.poll() == [b"8"]
    os.close(old)
    os.close(new)
    f.close()


def test_rotated_file_ending_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    f = Follower(path)
    append(path, b"a\ncut sh")
    assert f.poll() == [b"a"]
    os.rename(path, tmp_path / "access.log.1")
    path.write_bytes(b"b\n")
    assert f.poll() == [b"cut sh", b"b"]
    f.close()


# -- copy and truncate


def test_truncated_and_smaller(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    f = Follower(path)
    append(path, b"one\ntwo\nthree\nunfinished")
    assert f.poll() == [b"one", b"two", b"three"]
    os.truncate(path, 0)
    append(path, b"n\n")
    assert f.poll() == [b"n"]
    assert take_events(f) == [TRUNCATED]
    append(path, b"m\n")
    assert f.poll() == [b"m"]
    assert f.events == []
    f.close()


def test_truncated_and_grown_past_our_offset_between_polls(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    f = Follower(path)
    append(path, b"".join(b"before %d\n" % i for i in range(5)))
    assert len(f.poll()) == 5
    os.truncate(path, 0)
    after = [b"after the truncate %d" % i for i in range(10)]
    append(path, b"".join(line + b"\n" for line in after))
    assert f.poll() == after
    assert take_events(f) == [TRUNCATED]
    f.close()


def test_rewrite_reproducing_the_tail_is_not_noticed(tmp_path: Path) -> None:
    # The documented limit: the 64 bytes before our offset are the same, so we go on.
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    f = Follower(path)
    append(path, b"same\n" * 20)
    assert len(f.poll()) == 20
    os.truncate(path, 0)
    append(path, b"same\n" * 21)
    assert f.poll() == [b"same"]
    assert f.events == []
    f.close()


def test_truncate_under_a_writer_without_o_append(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    writer = os.open(path, os.O_WRONLY)  # keeps its own offset: a hole after the truncate
    f = Follower(path)
    os.write(writer, b"x" * 99 + b"\n")
    assert f.poll() == [b"x" * 99]
    os.truncate(path, 0)
    os.write(writer, b"next\n")
    assert path.read_bytes() == b"\0" * 100 + b"next\n"
    assert f.poll() == [b"next"]
    assert take_events(f) == [TRUNCATED]
    os.close(writer)
    f.close()


# -- oversized lines


def test_oversized_line_skipped(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    f = Follower(path, max_line=10, chunk=4)
    append(path, b"short\n" + b"x" * 5)
    assert f.poll() == [b"short"]
    append(path, b"x" * 20)
    assert f.poll() == []
    assert f.oversized == 1
    assert take_events(f) == ["line over 10 bytes skipped"]
    append(path, b"xxx\n0123456789\n01234567890\nok\n")
    assert f.poll() == [b"0123456789", b"ok"]
    assert f.oversized == 2
    assert take_events(f) == ["line over 10 bytes skipped"]
    append(path, b"y" * 11 + b"\n" + b"z" * 12 + b"\nfine\n")
    assert f.poll() == [b"fine"]
    assert f.oversized == 4
    assert take_events(f) == ["2 lines over 10 bytes skipped"]
    f.close()


def test_oversized_line_default_limit_memory(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    f = Follower(path)
    big = b"a" * (1 << 20)
    tracemalloc.start()
    try:
        for _ in range(8):  # an 8 MiB line, in 1 MiB writes, polled between them
            append(path, big)
            assert f.poll() == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    append(path, b"\nafter\n")
    assert f.poll() == [b"after"]
    assert f.oversized == 1
    assert take_events(f) == ["line over 1048576 bytes skipped"]
    assert peak < 4 << 20  # the line is never held whole
    f.close()


# -- errors


def test_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(LogReadError) as caught:
        Follower(tmp_path)
    assert str(caught.value) == f"cannot follow {tmp_path}: it is a directory"
    assert isinstance(caught.value, MonitorError)


def test_path_becoming_a_directory_raises(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    f = Follower(path)
    path.unlink()
    path.mkdir()
    with pytest.raises(LogReadError, match="it is a directory"):
        f.poll()
    f.close()


def test_fifo_raises(tmp_path: Path) -> None:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    with pytest.raises(LogReadError) as caught:
        Follower(path)
    assert str(caught.value) == f"cannot follow {path}: it is not a regular file but a FIFO"


def test_close_releases_the_files(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"a\n")
    before = open_fds()
    f = Follower(path)
    os.rename(path, tmp_path / "access.log.1")
    path.write_bytes(b"")
    f.poll()  # the old file and the new one open
    assert open_fds() == before + 2
    f.close()
    assert open_fds() == before
    append(path, b"b\n")
    assert f.poll() == []


def permission_scenario() -> list[object]:
    """Run in a child process as an unprivileged user (root ignores permissions): what the
    follower saw, step by step."""
    top = tempfile.mkdtemp(dir="/tmp")
    path = os.path.join(top, "access.log")
    seen: list[object] = [path]
    with open(path, "wb") as w:
        w.write(b"old\n")
    os.chmod(path, 0o200)  # write only
    f = Follower(path)
    seen.append(take_events(f))
    seen.append([f.poll(), f.poll()])
    with open(path, "ab") as w:
        w.write(b"written while unreadable\n")
    seen.append([f.poll(), take_events(f)])
    os.chmod(path, 0o600)
    seen.append([f.poll(), take_events(f)])
    writer = open(path, "ab", buffering=0)  # noqa: SIM115
    os.chmod(top, 0)  # the path cannot be looked up; the open file can still be read
    writer.write(b"during\n")
    seen.append([f.poll(), f.poll(), take_events(f)])
    os.chmod(top, 0o700)
    writer.write(b"after\n")
    seen.append([f.poll(), take_events(f)])
    writer.close()
    f.close()
    shutil.rmtree(top)
    return seen


def test_permission_denied_is_reported_once_and_retried() -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no exec (the interpreter may be out of nobody's reach)
        status = 1
        try:
            os.close(r)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            data = json.dumps(permission_scenario(), default=lambda b: b.decode())
            os.write(w, data.encode())
            status = 0
        finally:
            os._exit(status)
    os.close(w)
    with open(r, "rb") as pipe:
        out = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    path, *seen = json.loads(out)
    denied = f"cannot read {path}: Permission denied; retrying at every poll"
    assert seen == [
        [denied],
        [[], []],
        [[], []],  # reported once
        [["written while unreadable"], [f"{path}: readable again"]],  # from the first end
        [["during"], [], [denied]],
        [["after"], [f"{path}: readable again"]],
    ]


# -- rotation under a writer at full speed


def line(i: int, rng: random.Random) -> bytes:
    return b"%08d " % i + b"p" * rng.randint(0, 120) + b"\n"


class Progress:
    """How many lines the reader has; the writer waits on it before rotating again."""

    def __init__(self) -> None:
        self.count = 0
        self.cond = threading.Condition()

    def set(self, count: int) -> None:
        with self.cond:
            self.count = count
            self.cond.notify_all()

    def wait_beyond(self, count: int) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.count > count, timeout=20)


def rename_writer(path: Path, n: int, k: int, rng: random.Random, progress: Progress,
                  written: list[bytes], rotations: list[Path],
                  errors: list[BaseException]) -> None:
    """n numbered lines at full speed, some in two writes, rotating every k lines by
    rename (with or without logrotate's create, sometimes deleting the rotated file), a few
    lines to the old file after the rename before reopening."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        first = 0  # the first line of the file at the path

        def put(i: int) -> None:
            data = line(i, rng)
            if rng.random() < 0.2:
                cut = rng.randint(1, len(data) - 1)
                os.write(fd, data[:cut])
                os.write(fd, data[cut:])
            else:
                os.write(fd, data)
            written.append(data[:-1])

        i = 0
        rotation = 0
        while i < n:
            put(i)
            i += 1
            if i % k == 0 and i < n:
                # The reader must have opened this file before it goes (a rotation
                # faster than the polls would hide a whole file, as from tail -F).
                progress.wait_beyond(first)
                rotation += 1
                rotated = path.with_name(f"{path.name}.{rotation}")
                os.rename(path, rotated)
                rotations.append(rotated)
                if rng.random() < 0.5:
                    path.write_bytes(b"")
                if rng.random() < 0.3:
                    rotated.unlink()
                for _ in range(min(rng.randint(0, 3), n - i)):
                    put(i)
                    i += 1
                os.close(fd)
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                first = i
        os.close(fd)
    except BaseException as exc:  # reported by the test
        errors.append(exc)


@pytest.mark.parametrize("seed", range(20))
def test_rename_rotation_under_a_writer(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    n = 3000
    k = rng.randint(5, 400)
    path = tmp_path / "access.log"
    if seed % 2:
        path.write_bytes(b"")
    f = Follower(path, chunk=rng.choice([64, 4096, 1 << 16]))
    progress = Progress()
    written: list[bytes] = []
    rotations: list[Path] = []
    errors: list[BaseException] = []
    writer = threading.Thread(target=rename_writer,
                              args=(path, n, k, rng, progress, written, rotations, errors))
    writer.start()
    got: list[bytes] = []
    end = time.monotonic() + 60
    while len(got) < n and time.monotonic() < end:
        new = f.poll()
        if new:
            got += new
            progress.set(len(got))
        else:
            time.sleep(0.0002)  # let the writer run; correctness never depends on it
    writer.join()
    assert errors == []
    assert f.poll() == []
    assert len(written) == n
    assert got == written, f"k={k}"  # every line once, in order
    # Each new file opened once: at a rotation, or after waiting for the path.
    opened = f.events.count(ROTATED) + f.events.count(f"{path} exists: reading")
    assert opened == len(rotations) + (seed % 2 == 0)
    assert len(rotations) == (n - 1) // k
    assert TRUNCATED not in f.events
    assert f.oversized == 0
    f.close()


ROTATE_AFTER = 20_000  # lines written since the last truncate, before the next copy


def test_copytruncate_under_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    f = Follower(path, from_start=True)
    progress = Progress()  # here: the highest line number read, plus one
    written = [0]
    rotated = threading.Event()
    windows: list[tuple[int, int]] = []  # per rotation: lines written before its copy began,
    errors: list[BaseException] = []  # and after its truncate returned

    def write() -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            rng = random.Random(3)
            extra = 0
            while extra < 500:
                os.write(fd, line(written[0], rng))  # one write per line: atomic
                written[0] += 1
                if rotated.is_set():
                    extra += 1
            os.close(fd)
        except BaseException as exc:
            errors.append(exc)

    def rotate() -> None:
        try:
            for r in range(6):
                # A log of some size when it is rotated (about 1.4 MB): refilling it past the
                # reader's offset takes the writer many of its thread's turns, so that the
                # reader polls in between however the interpreter hands the turns over
                # (small files were refilled within one turn, and their truncate unseen).
                progress.wait_beyond(written[0] + ROTATE_AFTER)
                before_copy = written[0]
                progress.wait_beyond(before_copy - 1)  # the reader has all before the copy
                shutil.copyfile(path, tmp_path / f"access.log.{r}")
                os.truncate(path, 0)
                windows.append((before_copy, written[0]))
                progress.wait_beyond(written[0] + 50)
        except BaseException as exc:
            errors.append(exc)
        finally:
            rotated.set()

    threads = [threading.Thread(target=write), threading.Thread(target=rotate)]
    for thread in threads:
        thread.start()
    got: list[bytes] = []
    end = time.monotonic() + 60
    while threads[0].is_alive() and time.monotonic() < end:
        new = f.poll()
        if new:
            got += new
            progress.set(int(new[-1][:8]) + 1)
        else:
            time.sleep(0.0002)
    for thread in threads:
        thread.join()
    while True:
        new = f.poll()
        got += new
        if not new and not f.behind:
            break
    assert errors == []
    total = written[0]
    numbers = [int(text[:8]) for text in got]
    assert numbers == sorted(set(numbers))  # none twice, in order
    assert set(numbers) <= set(range(total))  # every line read was written
    # All the lines but those written from a copy's start to its truncate's end.
    must = set(range(total))
    for before_copy, after_truncate in windows:
        must -= set(range(before_copy, after_truncate + 1))
    assert must <= set(numbers)
    assert len(windows) == 6
    assert f.events.count(TRUNCATED) == 6
    f.close()


# -- streams


def test_stream_from_a_pipe(tmp_path: Path) -> None:
    r, w = os.pipe()
    stream = open(r, "rb")  # noqa: SIM115 - a BufferedReader, as sys.stdin.buffer
    s = StreamLines(stream)
    os.write(w, b"ab")
    end = time.monotonic() + 10
    pending = bytearray(4)
    while time.monotonic() < end:  # until the thread has read it: a read of its own
        fcntl.ioctl(r, termios.FIONREAD, pending)
        if int.from_bytes(pending, sys.byteorder) == 0:
            break
    assert s.poll() == []
    os.write(w, b"c\nd")
    assert drain(s, 1) == [b"abc"]
    assert not s.ended
    os.write(w, b"e\nlast without newline")
    os.close(w)
    got = drain(s, 2)
    end = time.monotonic() + 10
    while not s.ended and time.monotonic() < end:
        got += s.poll()
    assert got == [b"de", b"last without newline"]
    assert s.ended
    assert s.poll() == []
    assert s.events == [] and s.oversized == 0
    stream.close()


def test_stream_from_a_child_process() -> None:
    code = (
        "import os, sys\n"
        "out = sys.stdout.buffer\n"
        "for i in range(20000):\n"
        "    line = b'line %d ' % i + b'x' * (i % 50) + b'\\n'\n"
        "    if i % 997 == 0:\n"
        "        out.write(line[:3]); out.flush(); out.write(line[3:])\n"
        "    else:\n"
        "        out.write(line)\n"
        "out.write(b'y' * 5000 + b'\\nend')\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout is not None
    s = StreamLines(child.stdout, max_line=1000)
    got: list[bytes] = []
    end = time.monotonic() + 30
    while not s.ended and time.monotonic() < end:
        got += s.poll()
    assert child.wait(timeout=10) == 0
    expected = [b"line %d " % i + b"x" * (i % 50) for i in range(20000)] + [b"end"]
    assert got == expected
    assert s.oversized == 1
    assert s.events == ["line over 1000 bytes skipped"]
    child.stdout.close()


def test_stream_read_error_is_an_event(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"")
    stream = open(path, "rb")  # noqa: SIM115
    stream.close()  # reading it fails
    s = StreamLines(stream)
    end = time.monotonic() + 10
    while not s.ended and time.monotonic() < end:
        assert s.poll() == []
    assert s.ended
    assert s.events == [f"cannot read {path}: read of closed file"]


# -- finished files


def batches(path: Path, **kwargs: int) -> list[list[bytes]]:
    return list(read_file(path, **kwargs))


def test_read_file_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "f.log"
    path.write_bytes(b"a\nb\nc")
    assert batches(path) == [[b"a", b"b"], [b"c"]]
    path.write_bytes(b"a\nb\nc\n")
    assert batches(path) == [[b"a", b"b", b"c"]]


def test_read_file_crlf_and_empty_lines(tmp_path: Path) -> None:
    path = tmp_path / "f.log"
    path.write_bytes(b"a\r\n\r\nb\r\n\n")
    assert batches(path) == [[b"a\r", b"\r", b"b\r", b""]]


def test_read_file_empty(tmp_path: Path) -> None:
    path = tmp_path / "f.log"
    path.write_bytes(b"")
    assert batches(path) == []


@pytest.mark.parametrize("chunk", [1, 7, 4093])
def test_read_file_in_small_chunks(tmp_path: Path, chunk: int) -> None:
    rng = random.Random(chunk)
    count = 3000 if chunk == 1 else 100_000
    lines = [b"%d " % i + b"q" * rng.randint(0, 60) for i in range(count)]
    path = tmp_path / "f.log"
    path.write_bytes(b"\n".join(lines))  # no final newline either
    got = []
    for batch in read_file(path, chunk=chunk):
        assert batch
        got += batch
    assert got == lines


def test_read_file_memory_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "f.log"
    with open(path, "wb") as out:
        for _ in range(256):
            out.write(b"".join(b"%07d some log line text\n" % i for i in range(2000)))
    assert path.stat().st_size == 13_824_000
    tracemalloc.start()
    try:
        count = sum(len(batch) for batch in read_file(path, chunk=1 << 16))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 512_000
    assert peak < 1 << 20


def test_read_file_oversized_lines(tmp_path: Path) -> None:
    path = tmp_path / "f.log"
    path.write_bytes(b"ok\n" + b"x" * 100 + b"\nfine\n" + b"y" * 11 + b"\n0123456789")
    lines = read_file(path, chunk=8, max_line=10)
    assert [line for batch in lines for line in batch] == [b"ok", b"fine", b"0123456789"]
    assert lines.oversized == 2


def test_read_file_errors(tmp_path: Path) -> None:
    with pytest.raises(LogReadError) as caught:
        read_file(tmp_path / "missing.log")
    assert str(caught.value) == f"cannot read {tmp_path / 'missing.log'}: No such file or directory"
    with pytest.raises(LogReadError) as caught:
        read_file(tmp_path)
    assert str(caught.value) == f"cannot read {tmp_path}: Is a directory"


def test_read_file_from_a_pipe() -> None:
    # --replay <(zcat access.log.gz): a pipe, read to its end.
    child = subprocess.Popen([sys.executable, "-c", "print('a\\nb', end='')"],
                             stdout=subprocess.PIPE)
    assert child.stdout is not None
    got = [line for batch in read_file(f"/dev/fd/{child.stdout.fileno()}") for line in batch]
    assert got == [b"a", b"b"]
    child.wait(timeout=10)
    child.stdout.close()


# -- a W3C log followed from its end


W3C_HEAD = (b"#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
            b"#Date: 2027-01-15 08:00:00\n")
FIELDS_OLD = b"#Fields: date time c-ip cs-uri-stem sc-status"
FIELDS = b"#Fields: date time s-ip cs-method cs-uri-stem c-ip sc-status sc-bytes"


def test_a_w3c_log_from_its_end_starts_with_its_latest_fields_line(tmp_path: Path) -> None:
    path = tmp_path / "u_ex270115.log"
    path.write_bytes(W3C_HEAD + FIELDS_OLD + b"\n2027-01-15 08:00:00 10.0.0.1 /a 200\n"
                     + W3C_HEAD + FIELDS + b"\r\n"  # the server restarted: new fields
                     + b"2027-01-15 08:00:01 10.0.0.5 GET /b 10.0.0.2 200 512\n")
    f = Follower(path)
    assert f.poll() == [FIELDS + b"\r"]  # what the lines to come are read with
    append(path, b"2027-01-15 08:00:02 10.0.0.5 GET /c 10.0.0.3 200 64\n")
    assert f.poll() == [b"2027-01-15 08:00:02 10.0.0.5 GET /c 10.0.0.3 200 64"]
    f.close()
    # From the start, or a log that is no W3C log: nothing but its lines.
    f = Follower(path, from_start=True)
    assert f.poll()[:2] == W3C_HEAD.splitlines()[:2]
    f.close()
    other = tmp_path / "access.log"
    other.write_bytes(b"x - - [15/Jan/2027:08:00:00 +0000] \"GET /#Fields: HTTP/1.1\" 200 1\n")
    f = Follower(other)
    assert f.poll() == []
    f.close()


@pytest.mark.parametrize("chunk", [7, 64, 1 << 16])
def test_w3c_fields_found_far_back_across_chunks(tmp_path: Path, chunk: int) -> None:
    from monitor.logs.follow import w3c_fields

    path = tmp_path / "u_ex.log"
    body = b"".join(b"2027-01-15 08:00:%02d 10.0.0.5 GET /b 10.0.0.2 200 512\n" % (i % 60)
                    for i in range(300))
    path.write_bytes(W3C_HEAD + FIELDS_OLD + b"\n" + body + FIELDS + b"\n" + body)
    size = path.stat().st_size
    fd = os.open(path, os.O_RDONLY)
    try:
        assert w3c_fields(fd, size, chunk=chunk) == FIELDS
        before = len(W3C_HEAD) + len(FIELDS_OLD) + 1 + len(body) + 3  # in the second one
        assert w3c_fields(fd, before, chunk=chunk) == FIELDS_OLD
        assert w3c_fields(fd, len(W3C_HEAD) + 5, chunk=chunk) is None  # none whole before
    finally:
        os.close(fd)


def test_w3c_fields_too_far_back_is_taken_from_the_head(tmp_path: Path, monkeypatch) -> None:
    from monitor.logs import follow

    monkeypatch.setattr(follow, "FIELDS_BACK", 1000)
    path = tmp_path / "u_ex.log"
    body = b"2027-01-15 08:00:00 10.0.0.5 GET /b 10.0.0.2 200 512\n" * 100
    path.write_bytes(W3C_HEAD + FIELDS + b"\n" + body)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert follow.w3c_fields(fd, path.stat().st_size, chunk=64) == FIELDS
    finally:
        os.close(fd)
