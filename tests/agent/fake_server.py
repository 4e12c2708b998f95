"""A small real HTTP server that speaks the agent protocol of spec26 (`/api/v1/agent/`), on
127.0.0.1 in a thread: what the agent talks to before (and beside) the real `-m --web`.

It checks the requests' shapes as strictly as the spec says, keeps per (agent, instance)
the rows stored and `upto` (rows with id <= upto are duplicates, skipped), and records every
request. Its state lives in `State`, apart from the socket: a test stops the server (the
port refuses connections), then starts it again on the same port, state kept, as a
restarted monitor keeps its database.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, make_server

FIELDS = {"id", "monitor", "timestamp", "available", "code", "response_ms", "reason",
          "detail", "lateness_ms", "warning", "metrics"}
MAX_RESULTS = 5000


@dataclass
class Seen:
    """One request as the server saw it."""

    at: float  # wall clock, as the checks' timestamps
    method: str
    route: str
    status: int
    if_none_match: str | None = None
    ids: list[int] = field(default_factory=list)  # results: the ids posted


@dataclass
class State:
    """What the server knows: its agents, the monitors document, what was stored."""

    agents: dict[str, tuple[str, str]]  # token -> (name, location)
    config: dict[str, Any]
    poll: float = 1.0
    heartbeat: float = 1.0
    stored: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    upto: dict[tuple[str, str], int] = field(default_factory=dict)
    duplicates: int = 0
    seen: list[Seen] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    # Fault switches: results answered 503 (the store refuses); the next results request
    # committed, then its connection closed without an answer (a crash after the commit).
    refuse_results: bool = False
    drop_answer_once: bool = False
    refuse_id: int | None = None  # the result of this id answered 422, as a bad field
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def etag(self) -> str:
        text = json.dumps(self.config, sort_keys=True)
        return '"' + hashlib.sha256(text.encode()).hexdigest()[:16] + '"'

    def set_config(self, config: dict[str, Any]) -> None:
        with self.lock:
            self.config = config

    def rows(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every row stored (of agent `name`), in the order stored."""
        with self.lock:
            return [row for (agent, _), rows in self.stored.items() for row in rows
                    if name is None or agent == name]

    def requests(self, route: str) -> list[Seen]:
        with self.lock:
            return [seen for seen in self.seen if seen.route == route]


def _problem(status: int, title: str, detail: str = "", **more: str) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **more}
    return Response(json.dumps(body), status, mimetype="application/problem+json")


def create(state: State) -> Flask:
    app = Flask(__name__)

    def agent() -> tuple[str, str] | Response:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        if token not in state.agents:
            return _problem(401, "Unauthorized", "unknown agent token")
        return state.agents[token]

    def note(route: str, status: int, **kwargs: Any) -> None:
        with state.lock:
            state.seen.append(Seen(time.time(), request.method, route, status,
                                   request.headers.get("If-None-Match"), **kwargs))

    @app.get("/api/v1/agent/monitors")
    def monitors() -> Response:
        who = agent()
        if isinstance(who, Response):
            note("monitors", who.status_code)
            return who
        name, location = who
        if request.args.get("location") != location:
            note("monitors", 403)
            return _problem(403, "Forbidden", f"agent {name} is of location {location}")
        with state.lock:
            etag, config = state.etag, json.loads(json.dumps(state.config))
        if request.headers.get("If-None-Match") == etag:
            note("monitors", 304)
            return Response(status=304, headers={"ETag": etag})
        note("monitors", 200)
        body = {"agent": name, "location": location, "poll": state.poll,
                "heartbeat": state.heartbeat, "config": config}
        return Response(json.dumps(body), 200, mimetype="application/json",
                        headers={"ETag": etag})

    @app.post("/api/v1/agent/heartbeat")
    def heartbeat() -> Response:
        who = agent()
        if isinstance(who, Response):
            note("heartbeat", who.status_code)
            return who
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("instance"), str) \
                or not {"version", "outbox", "monitors"} <= set(body):
            note("heartbeat", 400)
            return _problem(400, "Bad Request", "instance, version, outbox, monitors")
        with state.lock:
            state.heartbeats.append(body)
            upto = state.upto.get((who[0], body["instance"]), 0)
            etag = state.etag
        note("heartbeat", 200)
        return Response(json.dumps({"etag": etag, "upto": upto}), 200,
                        mimetype="application/json")

    @app.post("/api/v1/agent/results")
    def results() -> Response:
        who = agent()
        if isinstance(who, Response):
            note("results", who.status_code)
            return who
        body = request.get_json(silent=True)
        problem = _check(body)
        if problem is not None:
            note("results", 400)
            return _problem(400, "Bad Request", problem)
        assert isinstance(body, dict)
        ids = [row["id"] for row in body["results"]]
        if state.refuse_id in ids:
            index = ids.index(state.refuse_id)
            note("results", 422, ids=ids)
            return _problem(422, "Unprocessable Content",
                            f"results[{index}].code: must be a whole number or null",
                            pointer=f"/results/{index}/code")
        if state.refuse_results:
            note("results", 503, ids=ids)
            return _problem(503, "Service Unavailable", "the store refuses: disk full")
        key = (who[0], body["instance"])
        with state.lock:  # the commit: rows and upto together
            upto = state.upto.get(key, 0)
            new = [row for row in body["results"] if row["id"] > upto]
            state.stored.setdefault(key, []).extend(new)
            state.duplicates += len(ids) - len(new)
            state.upto[key] = max([upto, *ids])
            answer = {"stored": len(new), "duplicates": len(ids) - len(new), "ignored": 0,
                      "upto": state.upto[key]}
            drop, state.drop_answer_once = state.drop_answer_once, False
        note("results", 200, ids=ids)
        if drop:
            # Committed, then gone before answering: the agent must send them again.
            request.environ["werkzeug.socket"].close() if "werkzeug.socket" in \
                request.environ else None
            raise ConnectionAbortedError("dropped after the commit")
        return Response(json.dumps(answer), 200, mimetype="application/json")

    return app


def _check(body: Any) -> str | None:
    """The spec's checks of a results body: the JSON path of what is wrong, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("instance"), str):
        return "instance: must be a string"
    rows = body.get("results")
    if not isinstance(rows, list) or not rows:
        return "results: must be a list of results"
    if len(rows) > MAX_RESULTS:
        return "results: too many"
    last = 0
    for index, row in enumerate(rows):
        where = f"results[{index}]"
        if not isinstance(row, dict) or set(row) != FIELDS:
            return f"{where}: keys must be {sorted(FIELDS)}"
        if not isinstance(row["id"], int) or row["id"] <= last:
            return f"{where}.id: must be an increasing integer"
        last = row["id"]
        if not isinstance(row["timestamp"], float | int):
            return f"{where}.timestamp: must be a number"
        if row["available"] not in (True, False, None):
            return f"{where}.available: must be true, false or null"
        if not isinstance(row["metrics"], dict):
            return f"{where}.metrics: must be an object"
        if not isinstance(row["monitor"], str) or not isinstance(row["warning"], bool):
            return f"{where}: monitor a string, warning a boolean"
    return None


class FakeServer:
    """The app served on 127.0.0.1 (a free port, then the same one across restarts)."""

    def __init__(self, state: State, port: int = 0) -> None:
        self.state = state
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self._server = make_server("127.0.0.1", self.port, create(self.state), threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
