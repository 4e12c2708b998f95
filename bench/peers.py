"""The monitor beside its peers, on the same nginx target, in one run.

    python -m bench.peers                # about 5 minutes
    python -m bench.peers --quick        # a smoke run

Installs what it lacks from Debian (nginx-light and its echo module,
prometheus-blackbox-exporter, monit, wrk), then, all on 127.0.0.1 and each bounded in time:

- nginx serves a tiny 200 (one process, no access log): the target for everyone; under
  /slow/ it answers 100 ms late, on a timer that costs no CPU;
- Prometheus' blackbox exporter probes it as fast as wrk can ask (`/probe?target=...`),
  its probes/s and CPU per probe read from /proc;
- Monit checks N hosts on it every 1 s cycle, strictly one after another: checks/s (from
  nginx's request counter) and CPU per check;
- this monitor as users run it (`monitoringApp.py -m -s`, measured from outside by
  bench.real: rows in its database, CPU of its process tree) checks it flat out, and keeps
  5,000 monitors at 1 s (lateness, skipped), then the same on /slow/.

It prints a table and one JSON line per figure, with the ratios to the peers measured in
this same run. bench.real has every scenario of the real program, with targets.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bench.figures import FIGURES, figure
from bench.procfs import cpu_seconds

if TYPE_CHECKING:
    from bench.real import Measure

PACKAGES = {"nginx": "nginx-light", "prometheus-blackbox-exporter":
            "prometheus-blackbox-exporter", "monit": "monit", "wrk": "wrk"}


def ensure_packages(commands: list[str] | None = None) -> None:
    """Install from Debian the packages of `commands` (default: every peer's) missing."""
    missing = [pkg for cmd, pkg in PACKAGES.items() if (commands is None or cmd in commands)
               and shutil.which(cmd) is None and not Path("/usr/sbin", cmd).exists()]
    if not missing:
        return
    print(f"installing {' '.join(missing)} from Debian...", flush=True)
    install = ["apt-get", "install", "-y", "-q", *missing]
    if subprocess.run(install, capture_output=True, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=900)
        subprocess.run(install, check=True, capture_output=True, timeout=900)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:g} s")


@contextlib.contextmanager
def process(args: list[str], port: int | None = None, **kwargs) -> Iterator[subprocess.Popen]:
    """`args` started, (once it listens on `port`), stopped on leaving. Its stderr goes to a
    file, not a pipe nobody reads (a server logging under load would block on a full one),
    and is told when it never listens."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, **kwargs)
        try:
            if port is not None:
                try:
                    wait_port(port)
                except RuntimeError as exc:
                    err.seek(0)
                    raise RuntimeError(f"{args[0]}: {exc}: {err.read()[-2000:]!r}") from None
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def served(folder: Path, beside: bool = False) -> Iterator[tuple[int, subprocess.Popen]]:
    """The real program over `folder`'s config.json and monitoring.db, on a free port:
    `-m -s --web`, or `serve` in a process of its own beside `-m -s` (`beside`). Yields
    the port and the serving process."""
    port = free_port()
    db = folder / "monitoring.db"
    files = ["-c", str(folder / "config.json"), "-db", str(db)]
    app = [sys.executable, str(Path(__file__).resolve().parent.parent / "monitoringApp.py")]
    monitor = [*app, "-m", "-s", *files]
    serve = [*app, "serve", "--listen", f"127.0.0.1:{port}", *files]
    if not beside:
        monitor, serve = [], [*monitor, "--web", f"127.0.0.1:{port}"]
    with contextlib.ExitStack() as stack:
        if monitor:
            stack.enter_context(process(monitor, cwd=folder))
            while not db.exists():
                time.sleep(0.05)
        yield port, stack.enter_context(process(serve, port, cwd=folder))


ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")


@contextlib.contextmanager
def nginx(folder: Path) -> Iterator[tuple[str, int, int]]:
    """nginx on a free port: (base URL, its pid, the port of its request counter). Every
    path answers a tiny 200 at once; under /slow/ 100 ms late, at no CPU (a timer of
    Debian's echo module, libnginx-mod-http-echo), when the module is installed."""
    port, status = free_port(), free_port()
    (folder / "logs").mkdir(exist_ok=True)
    conf = folder / "nginx.conf"
    echo = f"load_module {ECHO_MODULE};" if ECHO_MODULE.exists() else ""
    slow = "location /slow/ { echo_sleep 0.1; echo ok; }" if echo else ""
    conf.write_text(f"""
{echo}
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid {folder}/nginx.pid;
error_log stderr error;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    server {{ listen 127.0.0.1:{port} backlog=4096; location / {{ return 200 "ok"; }}
              {slow} }}
    server {{ listen 127.0.0.1:{status}; location / {{ stub_status; }} }}
}}
""")
    with process(["nginx", "-p", str(folder), "-c", str(conf), "-e", "stderr"], port) as proc:
        yield f"http://127.0.0.1:{port}", proc.pid, status


def nginx_requests(status_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{status_port}/", timeout=5) as answer:
        text = answer.read().decode()
    match = re.search(r"\n\s*\d+\s+\d+\s+(\d+)", text)
    if match is None:
        raise RuntimeError(f"nginx's stub_status has no request count: {text!r}")
    return int(match.group(1))


def blackbox(base: str, folder: Path, seconds: float, connections: int) -> dict:
    port = free_port()
    config = folder / "blackbox.yml"
    config.write_text("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n"
                      "    http:\n      preferred_ip_protocol: ip4\n"
                      "      ip_protocol_fallback: false\n")
    args = ["prometheus-blackbox-exporter", f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"]
    probe = f"http://127.0.0.1:{port}/probe?module=http_2xx&target={base}/probe"
    with process(args, port) as proc:
        with urllib.request.urlopen(probe, timeout=10) as answer:  # warm up, and check
            if b"probe_success 1" not in answer.read():
                raise RuntimeError("the blackbox exporter's probe of nginx failed")
        cpu0 = cpu_seconds(proc.pid)
        done = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d",
                               f"{seconds:g}s", "--latency", probe], capture_output=True,
                              text=True, timeout=seconds + 60)
        cpu = cpu_seconds(proc.pid) - cpu0
    match = re.search(r"(\d+) requests in ([\d.]+)s", done.stdout)
    if not match:
        raise RuntimeError(f"wrk printed no count: {done.stdout} {done.stderr}")
    probes, elapsed = int(match.group(1)), float(match.group(2))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    return {"rate": probes / elapsed, "cpu_us": cpu / max(1, probes) * 1e6,
            "cores": cpu / elapsed, "errors": int(errors.group(1)) if errors else 0}


def monit(base: str, status_port: int, folder: Path, hosts: int, seconds: float) -> dict:
    port = int(base.rpartition(":")[2])
    lines = ["set daemon 1", f"set idfile {folder}/monit.id",
             f"set statefile {folder}/monit.state", f"set pidfile {folder}/monit.pid",
             "set logfile /dev/null"]
    for i in range(hosts):
        lines += [f"check host h{i} with address 127.0.0.1",
                  f'    if failed port {port} protocol http request "/m{i}" then alert']
    rc = folder / "monitrc"
    rc.write_text("\n".join(lines) + "\n")
    rc.chmod(0o600)  # monit refuses a control file others can read
    with process(["monit", "-c", str(rc), "-I"]) as proc:
        time.sleep(2.0)  # its first cycle
        requests0, cpu0 = nginx_requests(status_port), cpu_seconds(proc.pid)
        start = time.monotonic()
        time.sleep(seconds)
        requests = nginx_requests(status_port) - requests0 - 1  # minus our own status read
        cpu = cpu_seconds(proc.pid) - cpu0
        elapsed = time.monotonic() - start
    rate = requests / elapsed
    return {"rate": rate, "expected": hosts / 1.0, "cpu_us": cpu / max(1, requests) * 1e6,
            "cycle_s": hosts / rate if rate else float("inf")}


def main() -> None:
    # bench.real builds on this module's servers: imported here, not at the top.
    from bench.real import BLACKBOX_TIMEOUT, Nginx, ensure_echo_module, measure

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--seconds", type=float, default=20, help="per flat-out measure")
    parser.add_argument("--sites", type=int, default=5000, help="sites at 1 s for lateness")
    parser.add_argument("--punctual-seconds", type=float, default=60)
    parser.add_argument("--monit-hosts", type=int, default=2000)
    parser.add_argument("--flat-monitors", type=int, default=2000,
                        help="ours flat out: this many monitors at 0.1 s")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.sites, args.punctual_seconds, args.monit_hosts = 3, 200, 3, 200
        args.flat_monitors = 200
    ensure_packages()
    ensure_echo_module()
    rows: list[tuple[str, str, str, str]] = []
    warmup, every = (1.0, 1.0) if args.quick else (5.0, 2.0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with nginx(folder) as (base, nginx_pid, status_port):
            bb = blackbox(base, folder, args.seconds, connections=64)
            figure("peer_blackbox_probes_per_s", bb["rate"], "probes/s",
                   cpu_us_per_probe=round(bb["cpu_us"], 1), cores=round(bb["cores"], 2),
                   failed=bb["errors"])
            rows.append(("blackbox exporter, flat out (wrk, 64 connections)",
                         f"{bb['rate']:.0f} probes/s",
                         f"{bb['cpu_us']:.0f} us CPU/probe, {bb['cores']:.2f} cores", ""))

            mo = monit(base, status_port, folder, args.monit_hosts, args.seconds)
            figure("peer_monit_checks_per_s", mo["rate"], "checks/s", hosts=args.monit_hosts,
                   expected=mo["expected"], cpu_us_per_check=round(mo["cpu_us"], 1),
                   cycle_s=round(mo["cycle_s"], 3))
            rows.append((f"Monit, {args.monit_hosts} hosts, 1 s cycle",
                         f"{mo['rate']:.0f}/s of {mo['expected']:.0f}/s",
                         f"{mo['cpu_us']:.0f} us CPU/check, cycle {mo['cycle_s']:.2f} s", ""))

            target = Nginx(base, nginx_pid, status_port)
            sites = [f"{base}/s{i}" for i in range(args.flat_monitors)]
            ours = measure(folder / "flat", target, sites, 0.1, args.seconds, warmup, every,
                           timeout=BLACKBOX_TIMEOUT)
            ratio, cpu_ratio = ours.rate / bb["rate"], ours.cpu_us / bb["cpu_us"]
            figure("engine_vs_nginx_checks_per_s", ours.rate, "checks/s",
                   measured="monitoringApp.py -m -s, rows stored", monitors=ours.monitors,
                   made_per_s=round(ours.made_rate, 1),
                   cpu_us_per_check=round(ours.cpu_us, 1),
                   ratio_to_blackbox=round(ratio, 2), cpu_ratio_to_blackbox=round(cpu_ratio, 2),
                   cpu_ratio_to_monit=round(ours.cpu_us / mo["cpu_us"], 2))
            rows.append((f"this monitor, flat out ({ours.monitors} monitors at 0.1 s)",
                         f"{ours.rate:.0f}/s stored", f"{ours.cpu_us:.0f} us CPU/check",
                         f"{ratio:.2f}x blackbox rate, {cpu_ratio:.2f}x its CPU/probe"))

            for name, label, prefix in (
                    ("engine_punctual_nginx", f"{args.sites} sites at 1 s on nginx", ""),
                    ("engine_punctual_100ms", f"{args.sites} sites at 1 s, 100 ms answers",
                     "/slow")):
                sites = [f"{base}{prefix}/s{i}" for i in range(args.sites)]
                result = measure(folder / name, target, sites, 1.0, args.punctual_seconds,
                                 warmup, every)
                punctual_row(name, label, result, args, rows)
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    print()
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, width, strict=True)).rstrip())
    for entry in FIGURES:
        print(json.dumps(entry))


def punctual_row(name: str, label: str, result: Measure, args: argparse.Namespace,
                 rows: list[tuple[str, str, str, str]]) -> None:
    lat = result.lateness
    figure(f"{name}_lateness_p99_ms", lat["p99"], "ms", sites=args.sites,
           checks_per_s=round(result.final.checks / result.seconds, 1),
           expected=round(result.expected), skipped=result.skipped, failed=result.final.failed,
           p50=round(lat["p50"], 2), max=round(lat["max"], 2),
           cpu_us_per_check=round(result.cpu_us, 1), newest_age_max_s=round(result.age_max, 2),
           target_p99_ms=50)
    rows.append((label, f"{result.final.checks / result.seconds:.0f}/s of {args.sites}/s",
                 f"lateness p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms,"
                 f" max {lat['max']:.0f} ms",
                 f"skipped {result.skipped}, failed {result.final.failed},"
                 f" {result.final.rows} rows stored"))


if __name__ == "__main__":
    main()
