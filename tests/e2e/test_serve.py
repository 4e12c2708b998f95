"""The web server as users start it: `serve` beside or without a monitor, and `-m --web`,
real processes answering real HTTP on loopback, stopped by signals."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import requests

from tests.support import app
from tests.support.app import Output

SERVING = re.compile(r"Serving (http://127\.0\.0\.1:\d+/)")


def _url(output: Output) -> str:
    line = app.wait_for(lambda: next((text for text in output.lines if SERVING.search(text)),
                                     None), timeout=20, what="the Serving line",
                        detail=output.dump)
    return SERVING.search(line).group(1)  # type: ignore[union-attr]


def _config(folder: Path, **top: object) -> None:
    app.write(folder / "config.json",
              {"monitors": [{"type": "tcp", "host": "127.0.0.1", "port": 9, "name": "closed",
                             "checkInterval": 0.5}], **top})


def test_serve_answers_and_stops_at_sigint(tmp_path: Path) -> None:
    _config(tmp_path)
    proc = app.start(["serve", "--listen", "127.0.0.1:0"], tmp_path)
    output = Output(proc, stderr=True)
    url = _url(output)
    answer = requests.get(f"{url}api/v1/health", timeout=5)
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert requests.get(f"{url}api/v1/nothing", timeout=5).headers["Content-Type"] \
        == "application/problem+json"
    took, out, _err = app.stop(proc, signal.SIGINT)
    output.join()
    assert proc.returncode == 0, output.dump()
    # The last line, read by the Output thread or by stop(), whichever got it first.
    assert (output.lines + out.splitlines())[-1] == "Stopped."
    assert took < 5, took
    assert (tmp_path / "monitoring.db").exists()  # the store it writes with made it


def test_monitor_with_web_serves_what_it_records(tmp_path: Path) -> None:
    _config(tmp_path)
    proc = app.start(["-m", "--plain", "--web", "127.0.0.1:0"], tmp_path)
    output = Output(proc, stderr=True)
    url = _url(output)
    assert requests.get(f"{url}api/v1/health", timeout=5).json()["status"] == "ok"
    app.wait_for(lambda: output.starting("ALERT:"), timeout=20, what="the alert",
                 detail=output.dump)
    _took, out, _err = app.stop(proc, signal.SIGTERM)
    output.join()
    assert proc.returncode == 0, output.dump()
    assert (output.lines + out.splitlines())[-1].startswith("Stopped; ")


def test_serve_refuses_to_listen_beyond_loopback_without_tokens(tmp_path: Path) -> None:
    _config(tmp_path)
    done = app.run_app(["serve", "--listen", "0.0.0.0:0"], tmp_path)
    assert done.returncode == 1
    assert done.stderr == ("Error: refusing to listen on 0.0.0.0:0 without apiTokens in"
                           " config.json: anyone who can reach it could read and change the"
                           " monitors (add a token, or listen on 127.0.0.1)\n")
    assert not (tmp_path / "monitoring.db").exists()  # refused before anything was made
    done = app.run_app(["-m", "--web", "0.0.0.0:0"], tmp_path)
    assert done.returncode == 1 and "refusing to listen on 0.0.0.0:0" in done.stderr
    assert not (tmp_path / "monitoring.db").exists()


def test_a_port_in_use_is_an_error(tmp_path: Path) -> None:
    _config(tmp_path)
    proc = app.start(["serve", "--listen", "127.0.0.1:0"], tmp_path)
    output = Output(proc, stderr=True)
    port = _url(output).rsplit(":", 1)[1].strip("/")
    try:
        done = app.run_app(["serve", "--listen", f"127.0.0.1:{port}", "-db", "other.db"],
                           tmp_path)
        assert done.returncode == 1
        assert done.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")
        assert "Traceback" not in done.stderr
    finally:
        app.stop(proc, signal.SIGINT)


def test_public_read_without_web_is_a_usage_error(tmp_path: Path) -> None:
    _config(tmp_path)
    done = app.run_app(["-m", "--public-read"], tmp_path)
    assert done.returncode == 2 and "--public-read goes with --web" in done.stderr


def test_a_body_beyond_every_route_s_limit_is_refused_unread(tmp_path: Path) -> None:
    _config(tmp_path)
    proc = app.start(["serve", "--listen", "127.0.0.1:0"], tmp_path)
    output = Output(proc, stderr=True)
    url = _url(output)
    try:
        # waitress refuses it from its Content-Length, before reading it into memory.
        answer = requests.post(f"{url}api/v1/metrics", data=b"a.b 1\n" * (1_500_000),
                               headers={"Content-Type": "text/plain"}, timeout=30)
        assert answer.status_code == 413
        assert answer.headers["Content-Type"] != "application/problem+json"  # not the app's
        # Within the bound, the route reads it and says what is wrong with it.
        within = requests.post(f"{url}api/v1/metrics", data=b"a.b 1\n" * 200_000,
                               headers={"Content-Type": "text/plain"}, timeout=30)
        assert within.status_code == 413, within.text
        assert "more than 100000 values" in within.json()["detail"]
    finally:
        app.stop(proc, signal.SIGINT)
