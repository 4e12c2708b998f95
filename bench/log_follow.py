"""Reading logs: the cost of an idle Follower.poll(), and the throughput of read_file,
Follower and StreamLines on a generated Combined log (in the page cache).

    python -m bench.log_follow [--mb 256]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from monitor.logs.follow import Follower, StreamLines, read_file

LINE = (b'10.0.%d.%d - - [10/Oct/2026:13:55:36 +0000] "GET /api/user/%d HTTP/1.1" 200 %d '
        b'"-" "Mozilla/5.0 (X11; Linux x86_64) bench"\n')


def make_log(path: Path, megabytes: int) -> int:
    block = b"".join(LINE % (i % 256, i % 199, i, i % 5000) for i in range(10000))
    with open(path, "wb") as out:
        for _ in range(max(1, megabytes * (1 << 20) // len(block))):
            out.write(block)
    return path.stat().st_size


def idle_poll(path: Path, polls: int) -> float:
    f = Follower(path)
    f.poll()
    t0 = time.perf_counter()
    for _ in range(polls):
        f.poll()
    us = (time.perf_counter() - t0) / polls * 1e6
    f.close()
    return us


def timed(label: str, size: int, run: Callable[[], int]) -> None:
    t0 = time.perf_counter()
    lines = run()
    dt = time.perf_counter() - t0
    print(f"{label:<28} {size / dt / 1e6:8.0f} MB/s  {lines / dt / 1e6:6.2f} M lines/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "access.log"
        size = make_log(path, args.mb)
        print(f"idle poll: {idle_poll(path, 200_000):.2f} us")
        with open(path, "rb") as warm:  # into the page cache
            while warm.read(1 << 24):
                pass

        def replay() -> int:
            return sum(len(batch) for batch in read_file(path))

        def follow() -> int:
            f = Follower(path, from_start=True)
            count = len(f.poll())
            while f.behind:
                count += len(f.poll())
            f.close()
            return count

        def stream() -> int:
            child = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)
            assert child.stdout is not None
            s = StreamLines(child.stdout)
            count = 0
            while not s.ended:
                got = s.poll()
                count += len(got)
                if not got:
                    time.sleep(0.001)
            child.wait()
            child.stdout.close()
            return count

        timed("read_file (1 MiB chunks)", size, replay)
        timed("Follower from_start", size, follow)
        timed("StreamLines (cat | pipe)", size, stream)


if __name__ == "__main__":
    main()
