"""The access-log monitor beside GoAccess, on the same generated Combined log, in one run.

    python -m bench.logs                 # a 1,024 MB log (and a quarter of it): a few minutes
    python -m bench.logs --size-mb 200
    python -m bench.logs --quick         # 20 MB: under a minute

Generates a realistic Combined log (a fixed seed: ~200 sections, ~5,000 clients, statuses,
sizes, referers and user agents, about 200 lines per second of log time, a few TLS
handshakes) into a temporary folder, then reads it with:

- GoAccess (Debian's `goaccess`, installed if missing), writing its JSON report;
- this monitor: `monitoringApp.py logs --replay FILE --format combined`, its output thrown
  away. Where that command does not exist yet, our parser with a plain aggregation (hits by
  section, client and status class, bytes) in a child process, shown as "parser only".

Each runs as a child process, timed from start to exit, its peak RSS and CPU time read from
its own rusage (wait4). Both sizes (a quarter of the log, then all of it) show whether memory
stays flat in the size of the file. Then the parsers alone: nanoseconds per line of each
format on a million realistic lines. Prints a table, then one JSON line per figure.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES: list[dict] = []
START = 1_700_000_000  # 2023-11-14 22:13:20 UTC
LINES_PER_SECOND = 200


def figure(name: str, value: float, unit: str, **extra: object) -> None:
    FIGURES.append({"figure": name, "value": round(value, 3), "unit": unit, **extra})


# -- The log ---------------------------------------------------------------------------------

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.43 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36 Edg/119.0.2151.97",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "curl/8.4.0", "Wget/1.21.4", "python-requests/2.31.0", "Go-http-client/1.1",
    "okhttp/4.12.0", "Prometheus/2.48.0", "kube-probe/1.28", "-",
]
WORDS = ["api", "static", "images", "blog", "user", "login", "search", "cart", "checkout",
         "products", "category", "assets", "js", "css", "fonts", "admin", "wp-admin",
         "wp-content", "feed", "docs", "help", "about", "contact", "news", "events", "media",
         "download", "uploads", "account", "orders", "payments", "graphql", "v1", "v2",
         "health", "metrics", "shop", "forum", "wiki", "careers"]
FILES = ["/", "/favicon.ico", "/robots.txt", "/sitemap.xml", "/index.html", "/ads.txt"]
STATUSES = [(200, 780), (304, 80), (301, 15), (302, 25), (404, 60), (403, 10), (401, 10),
            (400, 5), (500, 10), (502, 3), (503, 2)]
METHODS = [("GET", 900), ("POST", 70), ("HEAD", 20), ("PUT", 5), ("DELETE", 5)]
TLS_PROBE = '"\\x16\\x03\\x01\\x00\\xA5\\x01\\x00\\x00\\xA1\\x03\\x03" 400 157 "-" "-"'


class Model:
    """The traffic: who asks what, drawn once from a fixed seed."""

    def __init__(self, seed: int = 15) -> None:
        rng = self.rng = random.Random(seed)
        sections = [f"/{word}" for word in WORDS]
        sections += [f"/{rng.choice(WORDS)}-{index}" for index in range(200 - len(sections))]
        self.clients = [".".join(str(rng.randint(1, 254)) for _ in range(4))
                        for _ in range(4750)]
        self.clients += [f"2001:db8:{rng.randint(0, 65535):x}::{rng.randint(1, 65535):x}"
                         for _ in range(250)]
        self.client_weights = list(accumulate(zipf(len(self.clients))))  # cumulated
        referers = ["-"] * 8 + [f"https://www.example.com{rng.choice(sections)}/"
                                for _ in range(10)]
        referers += ["https://www.google.com/", "https://duckduckgo.com/"]
        count = 50_000  # distinct requests: method, path, protocol, status, size...
        chosen = rng.choices(sections, cum_weights=list(accumulate(zipf(len(sections)))),
                             k=count)
        statuses = rng.choices([code for code, _ in STATUSES],
                               [weight for _, weight in STATUSES], k=count)
        methods = rng.choices([name for name, _ in METHODS],
                              [weight for _, weight in METHODS], k=count)
        self.requests: list[tuple[str, str, str, int, int, str, str]] = []
        for section, status, method in zip(chosen, statuses, methods, strict=True):
            if rng.random() < 0.05:
                path = rng.choice(FILES)
            else:
                path = f"{section}/{rng.choice(['', 'item/', 'page/', 'v/'])}{rng.randint(1, 5000)}"
            if rng.random() < 0.15:
                path += f"?q={rng.randint(1, 999)}&page={rng.randint(1, 9)}"
            size = 0 if status in (301, 302, 304) else int(rng.lognormvariate(8.5, 1.6))
            self.requests.append((method, path, rng.choice(["HTTP/1.1", "HTTP/2.0"]), status,
                                  size, rng.choice(referers), rng.choice(USER_AGENTS)))

    def batches(self, batch: int = 20_000) -> Iterator[list[tuple[int, str, tuple]]]:
        """Endless (second, client, request) in batches; seconds advance ~200 lines a second,
        a line now and then a second or two late (servers log a request when it ends)."""
        rng, number = self.rng, 0
        while True:
            clients = rng.choices(self.clients, cum_weights=self.client_weights, k=batch)
            requests = rng.choices(self.requests, k=batch)
            lates = rng.choices((0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2),
                                k=batch)
            yield [(START + (number + index) // LINES_PER_SECOND - late, client, request)
                   for index, (client, request, late) in enumerate(zip(clients, requests, lates,
                                                                       strict=True))]
            number += batch


def zipf(count: int) -> list[float]:
    return [1 / (rank + 1) ** 0.9 for rank in range(count)]


class Stamps:
    """Formatted times by epoch second, computed once each."""

    def __init__(self, pattern: str, zone_hours: int = 0) -> None:
        self.pattern, self.shift, self.cache = pattern, zone_hours * 3600, {}

    def __call__(self, second: int) -> str:
        text = self.cache.get(second)
        if text is None:
            if len(self.cache) > 1000:
                self.cache.clear()
            text = self.cache[second] = time.strftime(self.pattern,
                                                      time.gmtime(second + self.shift))
        return text


def combined_lines(model: Model) -> Iterator[str]:
    stamp = Stamps("%d/%b/%Y:%H:%M:%S +0200", 2)
    for batch in model.batches():
        for index, (second, client, request) in enumerate(batch):
            if index == 7777:  # one in 20,000: a TLS handshake on the plain HTTP port
                yield f"{client} - - [{stamp(second)}] {TLS_PROBE}"
                continue
            method, path, protocol, status, size, referer, agent = request
            yield (f'{client} - - [{stamp(second)}] "{method} {path} {protocol}" {status} '
                   f'{size or "-"} "{referer}" "{agent}"')


def common_lines(model: Model) -> Iterator[str]:
    for line in combined_lines(model):
        yield line[:line.index('"', line.index('" ') + 2) - 1]


def w3c_lines(model: Model) -> Iterator[str]:
    yield ("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username "
           "c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes "
           "time-taken")
    stamp = Stamps("%Y-%m-%d %H:%M:%S")
    for batch in model.batches():
        for second, client, request in batch:
            method, path, _, status, size, referer, agent = request
            stem, _, query = path.partition("?")
            yield (f"{stamp(second)} 10.0.0.5 {method} {stem} {query or '-'} 443 - {client} "
                   f"{agent.replace(' ', '+')} {referer} {status} 0 0 {size} 15")


def csv_lines(model: Model) -> Iterator[str]:
    yield '"remotehost","rfc931","authuser","date","request","status","bytes"'
    for batch in model.batches():
        for second, client, request in batch:
            method, path, protocol, status, size, _, _ = request
            yield (f'"{client}","-","apache",{second},"{method} {path} {protocol}",{status},'
                   f'{size}')


def write_log(path: Path, size_mb: float, seed: int = 15) -> int:
    """Write a Combined log of about `size_mb` MB; its number of lines."""
    limit, written, count = int(size_mb * 1024 * 1024), 0, 0
    with path.open("w", encoding="ascii", newline="\n") as out:
        buffer: list[str] = []
        for line in combined_lines(Model(seed)):
            buffer.append(line)
            written += len(line) + 1
            count += 1
            if written >= limit:
                break
            if len(buffer) == 10_000:
                out.write("\n".join(buffer) + "\n")
                buffer.clear()
        out.write("\n".join(buffer) + "\n")
    return count


# -- Running the readers ---------------------------------------------------------------------


def ensure_goaccess() -> str:
    found = shutil.which("goaccess")
    if found:
        return found
    print("installing goaccess from Debian...", flush=True)
    install = ["apt-get", "install", "-y", "-qq", "goaccess"]
    if subprocess.run(install, capture_output=True, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=900)
        subprocess.run(install, check=True, capture_output=True, timeout=900)
    return shutil.which("goaccess") or "goaccess"


def measure(args: list[str], timeout: float, keep_output: bool = False) -> dict:
    """Run a child to its end: wall seconds, its CPU seconds and peak RSS, and its output if
    asked (else thrown away).

    A child's own rusage will not do for the peak: Linux counts in it the memory of the
    process it was forked from, before its exec (this one, tens of MB). GNU time forks it
    from a process of 2 MB and reports its peak; without GNU time, psutil samples it."""
    gnu_time = Path("/usr/bin/time")
    with tempfile.TemporaryDirectory() as tmp:
        report, out, err = Path(tmp, "time"), Path(tmp, "out"), Path(tmp, "err")
        wrapped = ([str(gnu_time), "-f", "%M %U %S", "-o", str(report), *args]
                   if gnu_time.exists() else args)
        with out.open("wb") as stdout, err.open("wb") as stderr:
            started = time.perf_counter()
            proc = subprocess.Popen(wrapped, stdin=subprocess.DEVNULL, cwd=ROOT,
                                    stdout=stdout if keep_output else subprocess.DEVNULL,
                                    stderr=stderr)
            peak = cpu = 0.0
            sampled = None if gnu_time.exists() else psutil_process(proc.pid)
            while proc.poll() is None:
                if time.perf_counter() - started > timeout:
                    proc.kill()
                if sampled is not None:
                    with contextlib.suppress(Exception):  # it may end between two looks
                        peak = max(peak, sampled.memory_info().rss / 2**20)
                        times = sampled.cpu_times()
                        cpu = times.user + times.system
                time.sleep(0.005)
            elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): "
                               f"{err.read_text(errors='replace')[-2000:]}")
        if gnu_time.exists():
            kilobytes, user, system = report.read_text().split()[-3:]
            peak, cpu = int(kilobytes) / 1024, float(user) + float(system)
        return {"seconds": elapsed, "cpu": cpu, "peak_mb": peak,
                "output": out.read_text(errors="replace")}


def psutil_process(pid: int):
    import psutil

    return psutil.Process(pid)


# The panels GoAccess computes that the access-log monitor does not (browsers, operating
# systems, referrers...): ignored in its second run, so that it does our work and no more.
NOT_OURS = ("VISITORS", "REQUESTS_STATIC", "NOT_FOUND", "OS", "BROWSERS", "VISIT_TIMES",
            "VIRTUAL_HOSTS", "REFERRERS", "REFERRING_SITES", "KEYPHRASES", "REMOTE_USER",
            "CACHE_STATUS", "GEO_LOCATION", "MIME_TYPE", "TLS_TYPE")


def run_goaccess(goaccess: str, log: Path, folder: Path, lines: int,
                 ours_only: bool = False) -> dict:
    report = folder / "goaccess.json"
    ignored = [f"--ignore-panel={panel}" for panel in NOT_OURS] if ours_only else []
    result = measure([goaccess, str(log), "--log-format=COMBINED", "--no-global-config",
                      "--no-progress", *ignored, "-o", str(report)], timeout=3600)
    general = json.loads(report.read_text())["general"]
    if general["total_requests"] != lines:
        raise RuntimeError(f"GoAccess read {general['total_requests']} of {lines} lines")
    result["valid"] = general["valid_requests"]
    return result


def our_command() -> list[str] | None:
    """The `logs` command if this checkout has it, else None."""
    probe = subprocess.run([sys.executable, "monitoringApp.py", "logs", "--help"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    if probe.returncode == 0:
        return [sys.executable, "monitoringApp.py", "logs"]
    if "No such command" not in probe.stdout + probe.stderr:
        print(f"monitoringApp.py logs --help failed ({probe.returncode}): "
              f"{(probe.stdout + probe.stderr)[-500:]}", file=sys.stderr)
    return None


def run_ours(command: list[str] | None, log: Path, lines: int) -> dict:
    if command is not None:
        result = measure([*command, "--replay", str(log), "--format", "combined"],
                         timeout=3600)
        result["mode"] = "replay"
    else:
        result = measure([sys.executable, "-m", "bench.logs", "--parse-only", str(log)],
                         timeout=3600, keep_output=True)
        result["mode"] = "parser only"
        counts = json.loads(result["output"])
        if counts["hits"] + counts["malformed"] != lines:
            raise RuntimeError(f"the parser read {counts} of {lines} lines")
        result["hits"] = counts["hits"]
    return result


def parse_only(path: str, name: str = "combined") -> None:
    """Our parser and a plain aggregation over a file read in 1 MB blocks (memory flat)."""
    from monitor.logs.formats import SKIP, Hit, make

    parse = make(name).parse
    sections: Counter[str] = Counter()
    clients: Counter[str] = Counter()
    classes = [0] * 6
    hits = malformed = sent = 0
    with open(path, "rb", buffering=0) as log:
        rest = b""
        while block := log.read(1 << 20):
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            for line in lines:
                hit = parse(line)
                if hit.__class__ is Hit:
                    sections[hit.section] += 1  # type: ignore[union-attr]
                    clients[hit.client] += 1  # type: ignore[union-attr]
                    classes[hit.status // 100] += 1  # type: ignore[union-attr]
                    sent += hit.size  # type: ignore[union-attr]
                    hits += 1
                elif hit is not SKIP:
                    malformed += 1
    print(json.dumps({"hits": hits, "malformed": malformed, "bytes": sent,
                      "sections": len(sections), "clients": len(clients),
                      "top": sections.most_common(3)}))


# -- The parsers alone -----------------------------------------------------------------------


def parser_speeds(count: int, rows: list[tuple]) -> None:
    from monitor.logs.formats import make

    makers: dict[str, Callable[[Model], Iterator[str]]] = {
        "common": common_lines, "combined": combined_lines, "w3c": w3c_lines,
        "csv": csv_lines}
    for name, lines_of in makers.items():
        source = lines_of(Model())
        lines = [next(source).encode() for _ in range(count)]
        parser = make(name)
        results = [parser.parse(line) for line in lines]  # warm: as in a long run
        malformed = results.count(None)
        best = float("inf")
        for _ in range(3):
            parse = make(name).parse
            for line in lines[:1000]:
                parse(line)
            started = time.perf_counter()
            for line in lines:
                parse(line)
            best = min(best, time.perf_counter() - started)
        ns = best / count * 1e9
        rows.append((f"parse {name}", f"{ns:,.0f} ns/line",
                     f"{count:,} lines, {malformed} malformed", ""))
        figure(f"parse_{name}_ns_per_line", ns, "ns", lines=count)
        del lines, results
        gc.collect()


# -- Main ------------------------------------------------------------------------------------


def compare(size_mb: float, folder: Path, goaccess: str, command: list[str] | None,
            rows: list[tuple], suffix: str) -> None:
    log = folder / f"access-{size_mb:g}mb.log"
    started = time.perf_counter()
    lines = write_log(log, size_mb)
    print(f"generated {log.stat().st_size / 2**20:,.0f} MB, {lines:,} lines in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    theirs = run_goaccess(goaccess, log, folder, lines)
    lean = run_goaccess(goaccess, log, folder, lines, ours_only=True)
    ours = run_ours(command, log, lines)
    log.unlink()
    mine, their = lines / ours["seconds"], lines / theirs["seconds"]
    label = f"{size_mb:g} MB"
    rows.append((f"GoAccess, {label}", f"{their:,.0f} lines/s",
                 f"{theirs['seconds']:.1f} s, CPU {theirs['cpu']:.1f} s, "
                 f"peak {theirs['peak_mb']:.0f} MB", ""))
    leaner = lines / lean["seconds"]
    rows.append((f"GoAccess, our panels only, {label}", f"{leaner:,.0f} lines/s",
                 f"{lean['seconds']:.1f} s, CPU {lean['cpu']:.1f} s, "
                 f"peak {lean['peak_mb']:.0f} MB", ""))
    rows.append((f"ours ({ours['mode']}), {label}", f"{mine:,.0f} lines/s",
                 f"{ours['seconds']:.1f} s, CPU {ours['cpu']:.1f} s, "
                 f"peak {ours['peak_mb']:.0f} MB", f"x{mine / their:.2f} GoAccess"))
    extra = {"size_mb": size_mb, "lines": lines}
    figure(f"logs_goaccess_lines_per_s{suffix}", their, "lines/s", **extra)
    figure(f"logs_ours_lines_per_s{suffix}", mine, "lines/s", mode=ours["mode"], **extra)
    figure(f"logs_ours_vs_goaccess{suffix}", mine / their, "ratio", mode=ours["mode"],
           **extra)
    figure(f"logs_goaccess_peak_mb{suffix}", theirs["peak_mb"], "MB", **extra)
    figure(f"logs_goaccess_our_panels_lines_per_s{suffix}", leaner, "lines/s", **extra)
    figure(f"logs_ours_vs_goaccess_our_panels{suffix}", mine / leaner, "ratio",
           mode=ours["mode"], **extra)
    figure(f"logs_ours_peak_mb{suffix}", ours["peak_mb"], "MB", mode=ours["mode"], **extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1024)
    parser.add_argument("--quick", action="store_true", help="a 20 MB log, 100,000 lines")
    parser.add_argument("--parser-lines", type=int, default=1_000_000)
    parser.add_argument("--parse-only", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.parse_only:
        parse_only(args.parse_only)
        return
    if args.quick:
        args.size_mb, args.parser_lines = 20, 100_000

    goaccess = ensure_goaccess()
    command = our_command()
    if command is None:
        print("`monitoringApp.py logs` does not exist here yet: measuring the parser only "
              "(with a plain aggregation) in its place", flush=True)
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as tmp:
        compare(args.size_mb / 4, Path(tmp), goaccess, command, rows, "_quarter")
        compare(args.size_mb, Path(tmp), goaccess, command, rows, "")
    parser_speeds(args.parser_lines, rows)

    from tabulate import tabulate

    print(tabulate(rows, headers=("measure", "result", "detail", "vs GoAccess")))
    for entry in FIGURES:
        print(json.dumps(entry))


if __name__ == "__main__":
    main()
