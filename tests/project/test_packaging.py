"""Packaging (issue 26): the Dockerfile, compose.yaml and the systemd units of contrib/.

What needs no engine runs everywhere: the files parsed for their promises (a user of its
own, a health check, no secret written in), the image's health check command run against a
real `monitoringApp.py -m --web`, the units checked by systemd's own tools and their
commands run for real under their MemoryDenyWriteExecute= and RestrictAddressFamilies=
(emulated with a seccomp filter like systemd's). `docker build` and `docker compose up` run
only where a Docker engine answers, and are skipped with the reason otherwise."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML: installed with apprise

from tests.support.app import APP, ROOT, Output, wait_for

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
SYSTEMD = ROOT / "contrib" / "systemd"
UNITS = ["uptime-monitor.service", "uptime-monitor-agent.service"]
INSTALLED_APP = "/opt/uptime-monitor/monitoringApp.py"  # where the units expect the checkout
SECRET_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|KEY", re.I)
REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)(?::\?[^}]*)?\}")  # ${VAR} or ${VAR:?message}
HEALTH_TOKEN = "h" * 24
AGENT_TOKEN = "a" * 24
WRITE_TOKEN = "w" * 24


# --- reading the files ------------------------------------------------------------------

def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, (KEYWORD, rest), continuations joined, comments out."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue  # also inside a continued instruction, as Docker reads it
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        if text:
            keyword, _, rest = text.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    last = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last:]


def one(keyword: str) -> str:
    (value,) = [rest for key, rest in final_stage() if key == keyword]
    return value


def health_command() -> list[str]:
    """The HEALTHCHECK's command, exec form, as Docker runs it."""
    rest = one("HEALTHCHECK")
    _options, _, command = rest.partition("CMD ")
    return list(json.loads(command))


def unit(name: str) -> list[tuple[str, str, str]]:
    """A unit file's (section, key, value) entries, in order, continuations joined."""
    entries: list[tuple[str, str, str]] = []
    section, pending = "", ""
    for line in (SYSTEMD / name).read_text().splitlines():
        if line.lstrip().startswith(("#", ";")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        if text.startswith("[") and text.endswith("]"):
            section = text[1:-1]
        elif "=" in text:
            key, _, value = text.partition("=")
            entries.append((section, key.strip(), value.strip()))
    return entries


def setting(name: str, key: str) -> str:
    values = [value for section, k, value in unit(name) if k == key and section == "Service"]
    assert values, f"{name}: no {key}="
    return values[-1]


def exec_start(name: str, env: dict[str, str]) -> list[str]:
    """The unit's ExecStart as argv, ${VAR}s replaced as systemd does from `env`."""
    words = shlex.split(setting(name, "ExecStart"))
    return [re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], word) for word in words]


def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, token: str = WRITE_TOKEN) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.load(answer)


def answers(url: str) -> Any:
    """`get(url)`, or None while the server does not answer it yet."""
    try:
        return get(url)
    except OSError:
        return None


# --- the Dockerfile -----------------------------------------------------------------------

def test_the_image_is_built_in_two_stages_on_python_3_11_slim() -> None:
    bases = [rest.split()[0] for keyword, rest in dockerfile() if keyword == "FROM"]
    assert len(bases) == 2, bases
    args = {rest.partition("=")[0]: rest.partition("=")[2] for keyword, rest in dockerfile()
            if keyword == "ARG"}
    images = {args.get(base.strip("${}"), base) for base in bases}
    assert len(images) == 1 and next(iter(images)).startswith("python:3.11-slim"), images
    # The runtime copies what the build stage made, and no compiler comes with it.
    assert any(keyword == "COPY" and rest.startswith("--from=build")
               for keyword, rest in final_stage())
    runtime = " ".join(rest for keyword, rest in final_stage() if keyword == "RUN")
    assert "gcc" not in runtime and "-dev" not in runtime


def test_the_image_runs_as_a_user_of_its_own_with_its_state_in_a_volume() -> None:
    user = one("USER").split(":")[0]
    assert user not in ("root", "0", ""), user
    assert "/var/lib/uptime-monitor" in json.loads(one("VOLUME"))
    assert one("WORKDIR") == "/var/lib/uptime-monitor"
    entrypoint = json.loads(one("ENTRYPOINT"))
    assert entrypoint[-1] == "monitoringApp.py", entrypoint
    command = json.loads(one("CMD"))
    # -m --web beyond loopback: the program refuses that without apiTokens (said in docs).
    assert command[:1] == ["-m"] and command[command.index("--web") + 1] == "0.0.0.0:8080"
    assert command[command.index("-c") + 1] == "/etc/uptime-monitor/config.json"
    assert command[command.index("-db") + 1].startswith("/var/lib/uptime-monitor/")
    # monitor/cli/signals.py: SIGTERM and SIGINT stop after the writes, SIGHUP reloads.
    assert one("STOPSIGNAL") in ("SIGTERM", "SIGINT")


def test_the_dockerfile_holds_no_secret() -> None:
    for keyword, rest in dockerfile():
        if keyword not in ("ENV", "ARG"):
            continue
        for name, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S*)", rest) or [(rest, "")]:
            assert not SECRET_NAME.search(name), f"{keyword} {name}: a secret in the image"
            assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", value), f"{keyword} {name}={value}"
    # Nor does what it is built from: the context is an allow-list without .env.
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", ignore
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    assert set(allowed) == {"setup.cfg", "pyproject.toml", "README.md", "monitoringApp.py",
                            "monitor"}, allowed


def _config(folder: Path, port: int, **top: Any) -> Path:
    path = folder / "config.json"
    document = {"monitors": [{"type": "tcp", "host": "127.0.0.1", "port": port,
                              "id": "self", "checkInterval": 0.5}],
                "apiTokens": [{"name": "admin", "token": "${MONITOR_API_TOKEN}",
                               "scope": "write"},
                              {"name": "health", "token": "${MONITOR_HEALTH_TOKEN}",
                               "scope": "read"}], **top}
    path.write_text(json.dumps(document, indent=2))
    return path


def _health(port: int, token: str | None) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command as Docker runs it (`python` found on PATH, the
    image's virtualenv there first: here, this one's)."""
    env = {key: value for key, value in os.environ.items() if key != "MONITOR_HEALTH_TOKEN"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MONITOR_HEALTH_URL"] = f"http://127.0.0.1:{port}/api/v1/health"
    if token is not None:
        env["MONITOR_HEALTH_TOKEN"] = token
    return subprocess.run(health_command(), env=env, capture_output=True, text=True,
                          timeout=30)


def test_the_image_health_check_passes_on_a_real_monitor_and_fails_clearly(
        tmp_path: Path) -> None:
    port = free_port()
    _config(tmp_path, port)
    # The image's CMD, its paths and address made this test's.
    command = json.loads(one("CMD"))
    command[command.index("-c") + 1] = str(tmp_path / "config.json")
    command[command.index("-db") + 1] = str(tmp_path / "monitoring.db")
    command[command.index("--web") + 1] = f"127.0.0.1:{port}"
    env = {**os.environ, "MONITOR_API_TOKEN": WRITE_TOKEN, "MONITOR_HEALTH_TOKEN": HEALTH_TOKEN}
    proc = subprocess.Popen([sys.executable, APP, *command], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output = Output(proc, stderr=True)
    try:
        done = wait_for(lambda: (ran := _health(port, HEALTH_TOKEN)).returncode == 0 and ran,
                        timeout=30, what="a passing health check", detail=output.dump)
        assert json.loads(done.stdout)["status"] == "ok"
        without = _health(port, None)
        assert without.returncode == 1 and without.stderr.startswith("unhealthy: HTTP 401: ")
        assert "Traceback" not in without.stderr
        wrong = _health(port, "x" * 24)
        assert wrong.returncode == 1 and wrong.stderr.startswith("unhealthy: HTTP 401: ")
        assert "x" * 24 not in wrong.stderr + wrong.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        output.join()
    assert proc.returncode == 0, output.dump()
    gone = _health(port, HEALTH_TOKEN)
    assert gone.returncode == 1 and gone.stderr.startswith("unhealthy: "), gone.stderr
    assert "refused" in gone.stderr and "Traceback" not in gone.stderr


# --- compose.yaml -------------------------------------------------------------------------

def test_compose_runs_postgres_a_server_and_an_agent_in_order() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "server", "agent"}
    postgres, server, agent = services["postgres"], services["server"], services["agent"]
    assert postgres["image"].startswith("postgres:")
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    # The server's health check is the image's (compose only sets how often).
    assert "test" not in server["healthcheck"] and health_command()
    assert agent["healthcheck"] == {"disable": True}  # it serves no HTTP
    assert server["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert agent["depends_on"] == {"server": {"condition": "service_healthy"}}
    command = server["command"]
    assert command[command.index("--web") + 1] == "0.0.0.0:8080"
    assert command[command.index("-db") + 1].startswith("postgresql://")
    assert agent["command"][:3] == ["agent", "--server", "http://server:8080"]
    assert "--token" not in agent["command"]  # MONITOR_AGENT_TOKEN: not seen in `ps`
    assert "/etc/uptime-monitor/config.json:ro" in server["volumes"][0]


def test_compose_takes_every_secret_from_the_env_file() -> None:
    document = compose()
    referenced: set[str] = set()
    for name, service in document["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                match = REFERENCE.fullmatch(str(value))
                assert match, f"services.{name}.environment.{key}: written in, not from .env"
                referenced.add(match.group(1))
        for word in service.get("command") or []:
            # A password in a URL would be seen in `ps` and in `docker inspect`.
            assert not re.search(r"://[^/\s:@]+:[^/\s@]*@", word), f"services.{name}: {word}"
    example = ROOT / "contrib" / "docker" / "env.example"
    listed = set(re.findall(r"^([A-Z0-9_]+)=", example.read_text(), flags=re.M))
    assert referenced == listed, (referenced, listed)
    assert re.findall(r"^[A-Z0-9_]+=(.+)$", example.read_text(), flags=re.M) == []
    # The config mounted names its tokens as ${VAR}s the server is given, and no more.
    config = (ROOT / "contrib" / "docker" / "config.json").read_text()
    server = set(document["services"]["server"]["environment"])
    assert set(re.findall(r"\$\{(\w+)\}", config)) <= server


def test_the_compose_config_is_one_the_monitor_loads(tmp_path: Path) -> None:
    env = {"MONITOR_API_TOKEN": WRITE_TOKEN, "MONITOR_HEALTH_TOKEN": HEALTH_TOKEN,
           "MONITOR_AGENT_TOKEN": AGENT_TOKEN}
    done = subprocess.run([sys.executable, APP, "--validate", "-c",
                           str(ROOT / "contrib" / "docker" / "config.json")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


# --- the systemd units ----------------------------------------------------------------------

HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes", "CapabilityBoundingSet": "",
    "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes", "RestrictNamespaces": "yes",
    "UMask": "0077", "Restart": "on-failure", "ExecReload": "/bin/kill -HUP $MAINPID",
}


@pytest.mark.parametrize("name", UNITS)
def test_the_units_run_as_their_own_user_hardened(name: str) -> None:
    for key, value in HARDENING.items():
        assert setting(name, key) == value, key
    assert setting(name, "User") == "uptime-monitor"
    assert setting(name, "StateDirectory").startswith("uptime-monitor")
    assert setting(name, "ConfigurationDirectory") == "uptime-monitor"
    assert setting(name, "ProtectHome") in ("yes", "read-only", "tmpfs")
    filters = [value for _section, key, value in unit(name) if key == "SystemCallFilter"]
    assert filters[0] == "@system-service", filters
    # A secret comes from a root-owned file read before the user is switched, never from
    # the unit itself (world-readable) nor the command line.
    for _section, key, value in unit(name):
        if key == "Environment":
            assert not SECRET_NAME.search(value), value
    assert "--token" not in setting(name, "ExecStart")
    assert setting(name, "EnvironmentFile").lstrip("-").startswith("/etc/uptime-monitor/")
    sysusers = (SYSTEMD / "uptime-monitor.sysusers").read_text()
    assert re.search(r"^u uptime-monitor ", sysusers, flags=re.M)


def test_the_env_file_examples_hold_what_the_units_read() -> None:
    for name, example, needed in [
            (UNITS[0], "monitor.env.example", {"MONITOR_API_TOKEN"}),
            (UNITS[1], "agent.env.example", {"MONITOR_AGENT_TOKEN"})]:
        text = (SYSTEMD / example).read_text()
        listed = set(re.findall(r"^#?([A-Z0-9_]+)=", text, flags=re.M))
        used = set(re.findall(r"\$\{(\w+)\}", setting(name, "ExecStart")))
        assert used | needed <= listed, (name, used | needed - listed)
        assert "0600" in text
        assert setting(name, "EnvironmentFile").lstrip("-").endswith(
            example.replace(".example", ""))
        # Secrets are left blank in the examples: nothing to copy by mistake.
        for key, value in re.findall(r"^([A-Z0-9_]+)=(.*)$", text, flags=re.M):
            assert not (SECRET_NAME.search(key) and value), key


def _verifiable(name: str, folder: Path) -> Path:
    """The unit as installed over this checkout: ExecStart names the real monitoringApp.py
    (verify refuses a command that does not exist)."""
    text = (SYSTEMD / name).read_text().replace(INSTALLED_APP, APP)
    path = folder / name
    path.write_text(text)
    return path


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_verify_accepts_the_unit(name: str, tmp_path: Path) -> None:
    done = subprocess.run(["systemd-analyze", "verify", str(_verifiable(name, tmp_path))],
                          capture_output=True, text=True, timeout=60)
    # Any complaint (an unknown key, a key in the wrong section) is printed: none allowed.
    assert done.returncode == 0 and not done.stdout + done.stderr, done.stdout + done.stderr
    # The unit as shipped differs only by the path of the checkout.
    shipped = subprocess.run(["systemd-analyze", "verify", str(SYSTEMD / name)],
                             capture_output=True, text=True, timeout=60)
    assert shipped.stderr.strip() == (f"{name}: Command {INSTALLED_APP} is not executable:"
                                      " No such file or directory") or Path(
        INSTALLED_APP).exists()


# What systemd-analyze security still counts against the units, each needed: the rest of
# its checks pass. A hardening line removed shows up here as a new item.
EXPOSED = {
    "PrivateNetwork=": "it checks other hosts",
    "RestrictAddressFamilies=~AF_(INET|INET6)": "it checks other hosts",
    "IPAddressDeny=": "the hosts it checks are the config's, any address",
    "RestrictAddressFamilies=~AF_UNIX": "glibc's name service (nscd, nss-resolve) uses it",
    "SystemCallFilter=~@resources": "it raises its open-file limit, streams run as batch",
    "ProtectHome=": "read-only, not hidden: a disk check of /home sees the real one",
    "ProtectProc=": "process checks look at every user's processes",
    "ProcSubset=": "host checks read /proc/stat, /proc/meminfo, /proc/loadavg",
    "PrivateUsers=": "not tried: a user namespace is beyond what these tests emulate",
    "RootDirectory=/RootImage=": "it runs the checkout's virtualenv in place",
    "DeviceAllow=": "char-rtc:r, which ProtectClock= itself leaves",
}
# systemd's "OK" band ends at 2.0 (then MEDIUM): the 11 items above weigh 1.6 in all.
MAX_EXPOSURE = 2.0


def _security(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                           str(path)], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
@pytest.mark.parametrize("name", UNITS)
def test_the_units_exposure_is_low_and_each_gap_is_needed(name: str, tmp_path: Path) -> None:
    done = _security(_verifiable(name, tmp_path))
    if "--offline" in done.stderr and "unrecognized" in done.stderr:
        pytest.skip(f"systemd-analyze security has no --offline here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    assert score, done.stdout[-2000:]
    assert float(score.group(1)) <= MAX_EXPOSURE, done.stdout
    failing = {line.split()[1] for line in done.stdout.splitlines() if line.startswith("✗")}
    assert failing <= set(EXPOSED), failing - set(EXPOSED)


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="no systemd-sysusers")
def test_the_sysusers_file_makes_the_user(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    done = subprocess.run(["systemd-sysusers", f"--root={tmp_path}",
                           str(SYSTEMD / "uptime-monitor.sysusers")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (entry,) = [line for line in (tmp_path / "etc" / "passwd").read_text().splitlines()
                if line.startswith("uptime-monitor:")]
    name, _x, uid, gid, _gecos, home, shell = entry.split(":")
    assert 0 < int(uid) < 1000 and home == "/var/lib/uptime-monitor"
    assert shell.endswith("nologin")


# --- the units' commands under their sandbox ----------------------------------------------

# A program run as `python -c SANDBOX FAMILIES COMMAND...`: installs a seccomp filter as
# systemd does for MemoryDenyWriteExecute=yes (mmap of W+X, mprotect/pkey_mprotect adding
# X: EPERM) and RestrictAddressFamilies= (socket() of another family: EAFNOSUPPORT), then
# execs COMMAND, which keeps the filter (so do its children: the probe processes).
SANDBOX = r'''
import ctypes, os, sys
LD, JEQ, AND, RET = 0x20, 0x15, 0x54, 0x06
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
def program(families):
    prog = [("ld", 4), ("jeq", 0xC000003E, None, "kill"), ("ld", 0),
            ("jeq", 9, "mmap", None), ("jeq", 10, "mprotect", None),
            ("jeq", 329, "mprotect", None), ("jeq", 41, "socket", None),
            ("ret", ALLOW),
            ("label", "mmap"), ("ld", 32), ("and", 6), ("jeq", 6, "eperm", "allow"),
            ("label", "mprotect"), ("ld", 32), ("and", 4), ("jeq", 4, "eperm", "allow"),
            ("label", "socket"), ("ld", 16),
            *[("jeq", family, "allow", None) for family in families],
            ("ret", ERRNO | 97),
            ("label", "eperm"), ("ret", ERRNO | 1),
            ("label", "allow"), ("ret", ALLOW),
            ("label", "kill"), ("ret", 0)]
    labels, code = {}, []
    for item in prog:
        if item[0] == "label":
            labels[item[1]] = len(code)
        else:
            code.append(item)
    out = []
    for i, item in enumerate(code):
        if item[0] == "jeq":
            jump = [0 if target is None else labels[target] - i - 1 for target in item[2:]]
            out.append((JEQ, jump[0], jump[1], item[1]))
        else:
            out.append(({"ld": LD, "and": AND, "ret": RET}[item[0]], 0, 0, item[1]))
    return out
class Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]
code = program([int(f) for f in sys.argv[1].split(",")])
array = (Filter * len(code))(*[Filter(*c) for c in code])
prog = Prog(len(code), ctypes.cast(array, ctypes.POINTER(Filter)))
libc = ctypes.CDLL(None, use_errno=True)
ulong = ctypes.c_ulong
if libc.prctl(38, ulong(1), ulong(0), ulong(0), ulong(0)) != 0:  # PR_SET_NO_NEW_PRIVS
    sys.exit(f"sandbox: PR_SET_NO_NEW_PRIVS: {os.strerror(ctypes.get_errno())}")
if libc.prctl(22, ulong(2), ctypes.byref(prog), ulong(0), ulong(0)) != 0:  # seccomp filter
    sys.exit(f"sandbox: PR_SET_SECCOMP: {os.strerror(ctypes.get_errno())}")
os.execv(sys.argv[2], sys.argv[2:])
'''

FAMILIES = {"AF_UNIX": socket.AF_UNIX, "AF_INET": socket.AF_INET, "AF_INET6": socket.AF_INET6,
            "AF_NETLINK": 16}


def sandboxed(name: str, argv: list[str]) -> list[str]:
    """`argv` under the unit's MemoryDenyWriteExecute= and RestrictAddressFamilies=."""
    assert setting(name, "MemoryDenyWriteExecute") == "yes"
    families = [FAMILIES[family] for family in setting(name, "RestrictAddressFamilies").split()]
    return [sys.executable, "-c", SANDBOX, ",".join(map(str, families)), *argv]


def _sandbox_works() -> str | None:
    """Why the seccomp emulation cannot run here, or None."""
    if sys.platform != "linux" or platform.machine() != "x86_64":
        return f"the filter is written for Linux on x86_64, not {sys.platform} {platform.machine()}"
    probe = ("import mmap, socket\n"
             "try:\n    mmap.mmap(-1, 4096, prot=7)\nexcept OSError:\n    pass\n"
             "else:\n    raise SystemExit('W+X mapped')\n"
             "try:\n    socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM)\n"
             "except OSError as exc:\n    assert exc.errno == 97, exc\n"
             "else:\n    raise SystemExit('AF_PACKET allowed')\n")
    done = subprocess.run([sys.executable, "-c", SANDBOX, "1,2,10", sys.executable, "-c",
                           probe], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        if "sandbox:" in done.stderr:
            return f"no seccomp here: {done.stderr.strip()}"
        pytest.fail(f"the seccomp filter does not do what systemd's does: {done.stderr}")
    return None


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        pass


@contextlib.contextmanager
def web_target() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _checks(port: int, monitor: str, location: str | None = None) -> list[dict[str, Any]]:
    query = "" if location is None else f"?location={location}"
    found = answers(f"http://127.0.0.1:{port}/api/v1/monitors/{monitor}/checks{query}")
    return [] if found is None else list(found["checks"])


def test_the_units_commands_run_under_their_sandbox(tmp_path: Path) -> None:
    """Both units' ExecStart, as written (paths and the listening address made this
    test's), under the units' MemoryDenyWriteExecute= and RestrictAddressFamilies=: pycurl,
    the host kinds, the probe processes and the web server work; SIGHUP reloads (ExecReload),
    SIGTERM (KillSignal) stops cleanly."""
    reason = _sandbox_works()
    if reason is not None:
        pytest.skip(reason)
    port = free_port()
    config_dir, state, agent_state = (tmp_path / "etc", tmp_path / "state",
                                      tmp_path / "agent")
    for folder in (config_dir, state, agent_state):
        folder.mkdir()
    secrets = {"MONITOR_API_TOKEN": WRITE_TOKEN, "MONITOR_HEALTH_TOKEN": HEALTH_TOKEN,
               "MONITOR_AGENT_TOKEN": AGENT_TOKEN}
    with web_target() as target:
        monitors: list[dict[str, Any]] = [
            {"URL": f"http://localhost:{target}/", "id": "web", "checkInterval": 0.5,
             "locations": ["local", "eu"]},
            {"type": "tcp", "host": "127.0.0.1", "port": target, "checkInterval": 0.5},
            {"type": "cpu", "maxPercent": 100, "checkInterval": 1},
            {"type": "memory", "maxPercent": 100, "checkInterval": 1},
            {"type": "disk", "path": "/", "maxPercent": 100, "checkInterval": 1},
            {"type": "process", "process": "no-such-process", "max": 0, "checkInterval": 1}]
        config = _config(config_dir, port, processes=2, agents=[
            {"name": "agent-1", "token": "${MONITOR_AGENT_TOKEN}", "location": "eu"}])
        document = json.loads(config.read_text())
        document["monitors"] = monitors
        config.write_text(json.dumps(document))
        unit_env = {"MONITOR_AGENT_SERVER": f"http://127.0.0.1:{port}",
                    "MONITOR_AGENT_LOCATION": "eu"}
        server_argv = [word.replace("/etc/uptime-monitor", str(config_dir))
                       .replace("/var/lib/uptime-monitor", str(state))
                       .replace("0.0.0.0:8080", f"127.0.0.1:{port}")
                       for word in exec_start(UNITS[0], unit_env)]
        agent_argv = [word.replace("/var/lib/uptime-monitor-agent", str(agent_state))
                      for word in exec_start(UNITS[1], unit_env)]
        assert server_argv[0] == agent_argv[0] == INSTALLED_APP
        env = {**os.environ, **secrets, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
        server = subprocess.Popen(sandboxed(UNITS[0], [sys.executable, APP, *server_argv[1:]]),
                                  cwd=state, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        server_output = Output(server, stderr=True)
        agent = subprocess.Popen(sandboxed(UNITS[1], [sys.executable, APP, *agent_argv[1:]]),
                                 cwd=agent_state, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        agent_output = Output(agent, stderr=True)

        def detail() -> str:
            return "\nserver:" + server_output.dump() + "\nagent:" + agent_output.dump()

        try:
            wait_for(lambda: _health(port, HEALTH_TOKEN).returncode == 0, timeout=30,
                     what="the server's health check", detail=detail)
            listed = get(f"http://127.0.0.1:{port}/api/v1/monitors")["monitors"]
            ids = [entry["id"] for entry in listed]

            def every_monitor_up() -> bool:
                states = {entry["id"]: entry["state"] for entry in
                          (answers(f"http://127.0.0.1:{port}/api/v1/monitors")
                           or {"monitors": []})["monitors"]}
                return len(states) == len(ids) and set(states.values()) == {"up"}

            wait_for(every_monitor_up, timeout=30, what="every monitor up", detail=detail)
            # The agent checks from location eu under its own unit's sandbox.
            wait_for(lambda: _checks(port, "web", "eu"), timeout=60,
                     what="a check of the agent's stored by the server", detail=detail)
            assert all(check["location"] == "eu" for check in _checks(port, "web", "eu"))
            assert _checks(port, "web", "local")
            # ExecReload: the config re-read, a monitor added.
            document["monitors"].append({"type": "tcp", "host": "127.0.0.1", "port": target,
                                         "id": "added", "checkInterval": 0.5})
            config.write_text(json.dumps(document))
            server.send_signal(signal.SIGHUP)
            wait_for(lambda: _checks(port, "added"), timeout=30,
                     what="the monitor added, checked after SIGHUP", detail=detail)
            agent.send_signal(signal.SIGHUP)  # fetches its monitors at once
            time.sleep(1)
            assert agent.poll() is None and server.poll() is None, detail()
        finally:
            for proc in (agent, server):
                proc.send_signal(signal.SIGTERM)  # KillSignal=
            for proc in (agent, server):
                try:
                    proc.wait(timeout=float(setting(UNITS[0], "TimeoutStopSec")))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            server_output.join()
            agent_output.join()
    assert server.returncode == 0 and agent.returncode == 0, detail()
    problems = [line for _at, line in server_output.err + agent_output.err
                if "Traceback" in line or "Operation not permitted" in line
                or "Address family" in line]
    assert not problems, detail()


# --- with a Docker engine ------------------------------------------------------------------

def _docker_missing() -> str | None:
    """Why `docker build` and `docker compose up` cannot run here, or None."""
    if shutil.which("docker") is None:
        return "no Docker engine: no docker command"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "no Docker engine: docker info did not answer within 30 s"
    if info.returncode != 0:
        said = (info.stderr.strip().splitlines() or ["(nothing said)"])[-1]
        return f"no Docker engine: docker info failed: {said}"
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True,
                            timeout=30)
    if plugin.returncode != 0:
        return f"no docker compose: {plugin.stderr.strip()[:200]}"
    return None


def docker(*args: str, timeout: float = 120, check: bool = True,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env})
    if check and done.returncode != 0:
        pytest.fail(f"docker {' '.join(args)}: exit {done.returncode}\n{done.stdout[-3000:]}"
                    f"\n{done.stderr[-3000:]}")
    return done


def test_the_image_and_compose_build_and_run_where_docker_is(tmp_path: Path) -> None:
    reason = _docker_missing()
    if reason is not None:
        pytest.skip(reason)
    tag = f"uptime-monitor-test:{uuid.uuid4().hex[:12]}"
    project = f"uptime-monitor-test-{uuid.uuid4().hex[:8]}"
    docker("build", "-t", tag, str(ROOT), timeout=1800)
    try:
        # The image alone: its own config (a check of its own API), a published port on
        # loopback, health from its HEALTHCHECK.
        config = _config(tmp_path, 8080)
        document = json.loads(config.read_text())
        document["monitors"] = [{"URL": "http://127.0.0.1:8080/api/v1/openapi.json",
                                 "id": "self", "checkInterval": 1}]
        config.write_text(json.dumps(document))
        config.chmod(0o644)
        port = free_port()
        container = docker(
            "run", "-d", "--name", f"{project}-alone", "-p", f"127.0.0.1:{port}:8080",
            "-e", "MONITOR_API_TOKEN", "-e", "MONITOR_HEALTH_TOKEN",
            "-v", f"{config}:/etc/uptime-monitor/config.json:ro",
            "--health-interval", "2s", tag,
            env={"MONITOR_API_TOKEN": WRITE_TOKEN, "MONITOR_HEALTH_TOKEN": HEALTH_TOKEN},
        ).stdout.strip()
        try:
            wait_for(lambda: docker("inspect", "--format", "{{.State.Health.Status}}",
                                    container).stdout.strip() == "healthy", timeout=120,
                     what="the container healthy",
                     detail=lambda: docker("logs", container, check=False).stderr[-3000:])
            wait_for(lambda: _checks(port, "self"), timeout=60, what="a check stored")
            assert docker("exec", container, "id", "-u").stdout.strip() != "0"
            docker("kill", "--signal", "HUP", container)  # a reload, not a stop
            time.sleep(2)
            assert docker("inspect", "--format", "{{.State.Running}}",
                          container).stdout.strip() == "true"
            docker("stop", container, timeout=60)
            assert docker("inspect", "--format", "{{.State.ExitCode}}",
                          container).stdout.strip() == "0"
        finally:
            docker("rm", "-f", "-v", container, check=False)
        # compose: PostgreSQL, the server and the agent, secrets from an env file.
        env_file = tmp_path / ".env"
        env_file.write_text("".join(f"{key}={value}\n" for key, value in {
            "MONITOR_API_TOKEN": WRITE_TOKEN, "MONITOR_HEALTH_TOKEN": HEALTH_TOKEN,
            "MONITOR_AGENT_TOKEN": AGENT_TOKEN, "POSTGRES_PASSWORD": "p" * 24}.items()))
        env_file.chmod(0o600)
        base = ["compose", "--project-name", project, "--project-directory", str(ROOT),
                "-f", str(COMPOSE), "--env-file", str(env_file)]
        try:
            docker(*base, "up", "-d", "--build", "--wait", "--wait-timeout", "300",
                   timeout=1800)
            published = docker(*base, "port", "server", "8080").stdout.strip()
            server_port = int(published.rsplit(":", 1)[1])
            wait_for(lambda: _checks(server_port, "example", "eu"), timeout=120,
                     what="a check of the agent's stored")
            assert _checks(server_port, "example", "local")
        finally:
            docker(*base, "down", "-v", "--remove-orphans", timeout=300, check=False)
    finally:
        docker("rmi", "-f", tag, check=False)
