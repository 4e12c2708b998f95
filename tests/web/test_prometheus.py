"""GET /metrics: every monitor's state and latest result and the monitor's own health, read
from a real database written by the real Store, parsed back with prometheus_client's own
parsers (text and OpenMetrics); secrets masked; scopes; the per-monitor families written
byte for byte as prometheus_client writes them."""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from monitor.core.model import CheckResult
from monitor.runtime import Runtime
from monitor.store.api import AlertRecord, Delivery, SetMaintenance, iso_utc
from monitor.store.sqlite.queries import SqliteReader, open_reader
from monitor.web.exposition import Family, client_family, escape, go_float, render
from monitor.web.prometheus import FAMILIES, Pace, monitor_families
from tests.support import app
from tests.support.web import READ_TOKEN, WRITE_TOKEN, Web, bearer

SHOP = "https://shopper:pa55w0rd-xyz@shop.example/health?token=t0ps3cret-abc"
SECRETS = ("pa55w0rd-xyz", "t0ps3cret-abc")
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
DOCUMENT = {"monitors": [
    {"URL": SHOP, "name": "shop \"main\""},                            # up, phases, certificate
    {"URL": "https://api.example/", "name": "api"},                     # down, alert open
    {"type": "tls", "host": "mail.example", "port": 993},               # warning
    {"type": "tcp", "host": "db.example", "port": 5432, "name": "db"},  # in maintenance
    {"type": "tcp", "host": "new.example", "port": 22, "name": "new"},  # no check yet
    {"type": "tcp", "host": "old.example", "port": 22, "name": "old", "paused": True},
]}
PHASES = {"dns": 1.5, "connect": 4.0, "tls": 9.25, "ttfb": 30.0, "total": 45.5}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str, openmetrics: bool = False) -> Samples:
    """Every sample of an exposition, by (name, labels)."""
    families = (openmetrics_families if openmetrics else text_string_to_metric_families)(text)
    return {(s.name, frozenset(s.labels.items())): s.value for f in families
            for s in f.samples}


def of(samples: Samples, metric: str, /, **labels: str) -> dict[frozenset, float]:
    """The samples of `metric` whose labels include `labels`."""
    want = set(labels.items())
    return {key: value for (found, key), value in samples.items()
            if found == metric and want <= key}


def one(samples: Samples, metric: str, /, **labels: str) -> float:
    found = of(samples, metric, **labels)
    assert len(found) == 1, (metric, labels, found)
    return next(iter(found.values()))


def fill(web: Web, now: float) -> dict[str, str]:
    """The DOCUMENT's monitors and their checks, through the real Store; their ids."""
    monitors = web.context.config.monitors
    ids = {m.name or m.kind: m.id for m in monitors}
    store = web.store
    store.set_monitors(monitors)
    # Within today (UTC) whatever the time of day, and within the past 10 s.
    at = max(now - 8.0, now // 86400 * 86400 + 1.0)
    shop, api, mail, db = ids['shop "main"'], ids["api"], ids["tls"], ids["db"]
    store.put_check(CheckResult(shop, at, False, 503, 80.0, "http_status", "503", mono=1))
    store.put_check(CheckResult(shop, at + 1, True, 200, 45.5, None, mono=2,
                                metrics={**PHASES, "cert_days": 88.5}))
    store.put_check(CheckResult(api, at, True, 200, 12.0, None, mono=1))
    for n in range(3):
        store.put_check(CheckResult(api, at + 1 + n, False, None, 2000.0, "timeout",
                                    "no answer in 2 s", mono=2 + n))
    store.put_check(CheckResult(mail, at, True, None, 20.0, "tls_expiry",
                                "certificate expires in 5.0 days", mono=1, warning=True,
                                metrics={"dns": 1.0, "connect": 2.0, "tls": 7.0,
                                         "cert_days": 5.0}))
    store.put_check(CheckResult(db, at, True, None, 3.0, None, mono=1,
                                metrics={"dns": 0.5, "connect": 1.0}))
    # Checked before it was paused: a last result stored.
    store.put_check(CheckResult(ids["old"], at, True, None, 4.0, None, mono=1,
                                metrics={"dns": 0.5, "connect": 1.0}))
    store.set_maintenance(SetMaintenance(db, at + 1, None))
    store.put_check(CheckResult(db, at + 2, None, None, 0.0, "maintenance", "by hand", mono=2))
    store.put_alert(AlertRecord(iso_utc(at + 3), api, "alert", iso_utc(at + 1), None, 0.25,
                                "api is down", deliveries=(
                                    Delivery("ops", "alert", "ALERT", "api is down"),
                                    Delivery("pager", "alert", "ALERT", "api is down"))))
    assert store.flush(10)
    return ids


@pytest.fixture()
def filled(make_web: Any) -> tuple[Web, dict[str, str], float]:
    web = make_web(DOCUMENT)
    now = time.time()
    web.context.clock = lambda: now
    return web, fill(web, now), now


def test_each_monitor_s_figures_are_the_stored_ones(filled: Any) -> None:
    web, ids, now = filled
    answer = web.client.get("/metrics")
    assert answer.status_code == 200
    assert answer.content_type == "text/plain; version=0.0.4; charset=utf-8"
    samples = parse(answer.get_data(as_text=True))
    shop, api, mail, db = ids['shop "main"'], ids["api"], ids["tls"], ids["db"]
    with _reader(web) as reader:
        stored = {s.id: s for s in reader.monitor_summaries()}
    # Every monitor's name, kind and target once, as stored (the target masked by the
    # config), in its info sample; every other sample of a monitor has its id only.
    for monitor_id, summary in stored.items():
        labels = {"id": monitor_id, "kind": summary.kind, "name": summary.name,
                  "target": summary.target}
        assert one(samples, "uptime_monitor_info", id=monitor_id) == 1.0
        assert one(samples, "uptime_monitor_info", **labels) == 1.0
    own = {"uptime_monitor_state": {"state"}, "uptime_monitor_phase_seconds": {"phase"},
           "uptime_monitor_checks_total": {"reason"}, "uptime_monitor_info": {
               "kind", "name", "target"}}
    per_monitor = [(name, labels) for name, labels in samples if name.startswith(
        "uptime_monitor_")]
    assert len(per_monitor) > 40
    for name, labels in per_monitor:
        assert {key for key, _ in labels} == {"id", *own.get(name, ())}, (name, labels)
    states = {dict(key)["id"]: dict(key)["state"]
              for key in of(samples, "uptime_monitor_state")}
    assert states == {shop: "up", api: "down", mail: "warning", db: "maintenance",
                      ids["new"]: "pending", ids["old"]: "paused"}
    assert set(of(samples, "uptime_monitor_state").values()) == {1.0}
    assert one(samples, "uptime_monitor_up", id=shop) == 1.0
    assert one(samples, "uptime_monitor_up", id=api) == 0.0
    assert one(samples, "uptime_monitor_up", id=mail) == 1.0  # a warning is up
    assert of(samples, "uptime_monitor_up", id=ids["new"]) == {}
    # A paused monitor's latest result is history: only its state is said.
    assert {name for name, labels in samples if ("id", ids["old"]) in labels} == {
        "uptime_monitor_info", "uptime_monitor_state", "uptime_monitor_alert_open",
        "uptime_monitor_checks_total", "uptime_monitor_checks_up_total"}
    for monitor_id in (shop, api, mail, db):
        assert one(samples, "uptime_monitor_response_seconds", id=monitor_id) \
            == (stored[monitor_id].last_response or 0) / 1000
        assert one(samples, "uptime_monitor_last_check_timestamp_seconds",
                   id=monitor_id) == stored[monitor_id].last_check
    assert one(samples, "uptime_monitor_response_seconds", id=shop) == 0.0455
    phases = {dict(key)["phase"]: value
              for key, value in of(samples, "uptime_monitor_phase_seconds", id=shop).items()}
    assert phases == {name: ms / 1000 for name, ms in PHASES.items()}
    assert set(dict(key)["phase"] for key in
               of(samples, "uptime_monitor_phase_seconds", id=db)) == {"dns", "connect"}
    assert one(samples, "uptime_monitor_certificate_days_left", id=shop) == 88.5
    assert one(samples, "uptime_monitor_certificate_days_left", id=mail) == 5.0
    assert of(samples, "uptime_monitor_certificate_days_left", id=api) == {}
    assert one(samples, "uptime_monitor_alert_open", id=api) == 1.0
    assert one(samples, "uptime_monitor_alert_open", id=shop) == 0.0


def test_checks_by_reason_count_the_stored_rows_of_today(filled: Any) -> None:
    web, ids, now = filled
    samples = parse(web.client.get("/metrics").get_data(as_text=True))
    day = now // 86400 * 86400
    with _reader(web) as reader:
        rows = reader.conn.execute(
            "SELECT monitor, coalesce(reason, 'ok'), count(*), sum(available = 1)"
            " FROM website_monitoring WHERE timestamp >= ? GROUP BY 1, 2", (day,)).fetchall()
    expected: dict[tuple[str, str], float] = {}
    up: dict[str, float] = {}
    for monitor_id, reason, count, ups in rows:
        expected[monitor_id, reason] = float(count)
        expected.setdefault((monitor_id, "ok"), 0.0)  # always there: rate() sees its start
        up[monitor_id] = up.get(monitor_id, 0.0) + float(ups or 0)
    found = {(dict(key)["id"], dict(key)["reason"]): value
             for key, value in of(samples, "uptime_monitor_checks_total").items()}
    assert found == expected
    assert found[ids["api"], "timeout"] == 3.0 and found[ids["api"], "ok"] == 1.0
    assert found[ids["tls"], "tls_expiry"] == 1.0  # a warning counts by its reason
    assert found[ids["db"], "maintenance"] == 1.0
    assert {dict(key)["id"]: value for key, value in
            of(samples, "uptime_monitor_checks_up_total").items()} == up


def test_the_monitor_s_own_health_under_serve(filled: Any) -> None:
    web, _ids, now = filled
    samples = parse(web.client.get("/metrics").get_data(as_text=True))
    assert one(samples, "uptime_info", mode="serve") == 1.0
    # The checks stored in the past 10 s (skipped slots aside), as -r's live view counts.
    with _reader(web) as reader:
        lateness, newest = reader.recent_lateness(now - 10)
    assert one(samples, "uptime_checks_per_second") == len(lateness) / 10
    assert one(samples, "uptime_newest_check_age_seconds") == pytest.approx(now - newest)
    assert set(of(samples, "uptime_check_lateness_seconds")) == {
        frozenset({("quantile", "0.5")}), frozenset({("quantile", "0.99")})}
    assert one(samples, "uptime_notifications_waiting", provider="ops") == 1.0
    assert one(samples, "uptime_notifications_waiting", provider="pager") == 1.0
    assert one(samples, "process_cpu_seconds_total") > 0
    # What only the running monitor knows is not made up by a server beside it.
    assert of(samples, "uptime_writer_queue_rows") == {}
    assert of(samples, "uptime_rows_dropped_total") == {}


def test_under_the_monitor_its_writer_and_pace_are_read_from_it(filled: Any) -> None:
    web, _ids, _now = filled
    runtime = Runtime(web.context.config, web.store, config_path=web.config_path)
    web.context.runtime = runtime
    runtime.engine.recent_lateness.extend([1.0] * 98 + [40.0, 500.0])
    samples = parse(web.client.get("/metrics").get_data(as_text=True))
    assert one(samples, "uptime_info", mode="monitor") == 1.0
    assert one(samples, "uptime_check_lateness_seconds", quantile="0.5") == 0.001
    assert one(samples, "uptime_check_lateness_seconds", quantile="0.99") == 0.5
    written = web.store.written
    assert one(samples, "uptime_rows_written_total", table="checks") == written.checks
    assert one(samples, "uptime_rows_written_total", table="alerts") == written.alerts
    assert one(samples, "uptime_writer_queue_rows", table="checks") == 0.0
    assert one(samples, "uptime_writer_lag_seconds") == 0.0
    assert one(samples, "uptime_rows_dropped_total") == 0.0
    assert one(samples, "uptime_checks_run_total") == 0.0


def test_the_pace_is_checks_run_since_an_earlier_scrape() -> None:
    done, now = [100], [1000.0]
    pace = Pace(lambda: done[0], clock=lambda: now[0])
    now[0], done[0] = 1010.0, 600
    assert pace.rate() == 50.0  # since the server started
    now[0], done[0] = 1010.5, 650
    assert pace.rate() == pytest.approx(550 / 10.5)  # the scrape 0.5 s ago is too close
    now[0], done[0] = 1020, 1600
    assert pace.rate() == 100.0
    # However often scrapers ask, the latest scrape at least a second old is kept.
    for step in range(1, 200):
        now[0], done[0] = 1020 + step * 0.01, 1600 + step
        assert pace.rate() == pytest.approx(100.0)
    assert Pace(lambda: 7, clock=lambda: 5.0).rate() is None  # no time has passed


def test_secrets_are_masked_in_every_label(filled: Any) -> None:
    web, ids, _now = filled
    for headers in ({}, {"Accept": OPENMETRICS}):
        text = web.client.get("/metrics", headers=headers).get_data(as_text=True)
        for secret in SECRETS:
            assert secret not in text
    assert "shopper:***@shop.example" in ids['shop "main"']
    samples = parse(text, openmetrics=True)
    assert one(samples, "uptime_monitor_info", name='shop "main"', target=ids['shop "main"'],
               id=ids['shop "main"']) == 1
    assert one(samples, "uptime_monitor_up", id=ids['shop "main"']) == 1


@pytest.mark.parametrize("accept", [
    # Prometheus 2's Accept header, and Prometheus 3's.
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;"
    "escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
])
def test_openmetrics_when_the_scraper_asks_for_it(filled: Any, accept: str) -> None:
    web, _ids, _now = filled
    text = web.client.get("/metrics").get_data(as_text=True)
    answer = web.client.get("/metrics", headers={"Accept": accept})
    assert answer.content_type.startswith("application/openmetrics-text; version=1.0.0")
    body = answer.get_data(as_text=True)
    assert body.endswith("# EOF\n") and body.count("# EOF") == 1
    assert "# TYPE uptime_monitor_checks counter" in body
    assert "# TYPE uptime_monitor info" in body  # OpenMetrics's info type
    assert "# TYPE uptime_monitor_info gauge" in text  # the text format's stand-in
    plain, openmetrics = parse(text), parse(body, openmetrics=True)
    moving = {"process_cpu_seconds_total", "process_resident_memory_bytes",
              "process_virtual_memory_bytes", "process_open_fds"}
    assert {k: v for k, v in plain.items() if k[0] not in moving} == \
           {k: v for k, v in openmetrics.items() if k[0] not in moving}


def test_gzip_when_the_scraper_accepts_it(filled: Any) -> None:
    web, _ids, _now = filled
    plain = web.client.get("/metrics")
    packed = web.client.get("/metrics", headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    moving = ("process_", "uptime_newest")
    def steady(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith(moving)]

    assert steady(gzip.decompress(packed.get_data()).decode()) == \
        steady(plain.get_data(as_text=True))
    assert "Content-Encoding" not in plain.headers


@pytest.mark.parametrize("openmetrics", [False, True])
def test_written_as_prometheus_client_writes_it(filled: Any, openmetrics: bool) -> None:
    web, _ids, now = filled
    with _reader(web) as reader:
        labels, families = monitor_families(reader, now, {"x"})
    ours = "".join(render(families, labels, openmetrics))
    client = [client_family(f, labels) for f in families]
    theirs = (openmetrics_latest if openmetrics else generate_latest)(_Listed(client)).decode()
    assert ours + ("# EOF\n" if openmetrics else "") == theirs
    assert sum(len(f.samples) for f in families) > 30


def test_label_values_and_numbers_are_written_as_prometheus_client_does() -> None:
    monitors = ['a\\b "c"\nd', "ü→,y=z}"]
    family = Family("demo_seconds", "gauge", 'help with \\ and "quotes"\nand lines',
                    ("reason",))
    for i, value in enumerate([0.0, -2.5, 1e6, 123456789.123, 1e-7, 3, float("inf"),
                               float("-inf"), 1796635969.4135337, 999999.0, 1e22]):
        family.add(i % 2, value, f"r{i}\"\\\n")
    counter = Family("demo_events", "counter", "events", ())
    counter.add(1, 2.0)
    info = Family("demo", "info", "what each is", ("kind", "name", "target"))
    info.add(0, 1.0, "http", 'say "hi"\nthere', "t")
    info.add(1, 1.0, "tcp", "", "x,y=z}")
    # Unix times only (written in a shape of their own), and with a NaN among them.
    times = Family("demo_timestamp_seconds", "gauge", "times", ("reason",))
    late = Family("demo_late_timestamp_seconds", "gauge", "times")
    for i, value in enumerate([1796635969.4135337, 1700000000.0, 1e9, 9999999999.999998,
                               1234567890.1, 1000000000.5]):
        times.add(i % 2, value, str(i))
        late.add(i % 2, value)
    late.add(0, float("nan"))
    made = [family, counter, info, times, late]
    for openmetrics in (False, True):
        ours = "".join(render(made, monitors, openmetrics))
        client = _Listed([client_family(f, monitors) for f in made])
        theirs = (openmetrics_latest if openmetrics else generate_latest)(client).decode()
        assert ours + ("# EOF\n" if openmetrics else "") == theirs
    assert go_float(float("nan")) == "NaN" and escape('a"b') == 'a\\"b'


def test_a_family_s_extra_labels_must_sort_after_the_id() -> None:
    for extra in (("a", "phase"), ("id",), ("state", "phase"), ("phase", "phase")):
        with pytest.raises(ValueError, match="do not sort after 'id'"):
            Family("x", "gauge", "x", extra)
    with pytest.raises(ValueError, match="no metric type 'summary'"):
        Family("x", "summary", "x")
    for spec in FAMILIES.values():
        Family(*spec)  # type: ignore[arg-type]


def test_with_tokens_metrics_need_a_token_of_either_scope(make_web: Any) -> None:
    web = make_web(DOCUMENT, tokens=True, public_read=True)
    answer = web.client.get("/metrics")
    assert answer.status_code == 401 and answer.mimetype == "application/problem+json"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert web.client.get("/metrics", headers=bearer("x" * 20)).status_code == 401
    for token in (READ_TOKEN, WRITE_TOKEN):
        answer = web.client.get("/metrics", headers=bearer(token))
        assert answer.status_code == 200, answer.get_data(as_text=True)


def test_without_tokens_metrics_are_open(make_web: Any) -> None:
    web = make_web(DOCUMENT)
    answer = web.client.get("/metrics")
    assert answer.status_code == 200
    samples = parse(answer.get_data(as_text=True))
    # No monitor has run on this database yet: the monitors are those the monitor runs.
    assert of(samples, "uptime_monitor_state") == {}
    assert one(samples, "uptime_info", mode="serve") == 1.0
    web.store.set_monitors(web.context.config.monitors)
    assert web.store.flush(10)
    samples = parse(web.client.get("/metrics").get_data(as_text=True))
    assert len(of(samples, "uptime_monitor_state", state="pending")) == 5


def test_only_get_is_taken(make_web: Any) -> None:
    answer = make_web().client.post("/metrics")
    assert answer.status_code == 405 and answer.mimetype == "application/problem+json"


def test_a_database_that_cannot_be_read_is_a_503(make_web: Any, tmp_path: Path) -> None:
    web = make_web()
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database at all" * 200)
    web.context.db_path = broken
    answer = web.client.get("/metrics")
    assert answer.status_code == 503 and answer.mimetype == "application/problem+json"
    assert "broken.db" in answer.json["detail"]


class _Listed:
    """Families as a collector, for prometheus_client's generate_latest."""

    def __init__(self, families: Iterable[Any]) -> None:
        self._families = list(families)

    def collect(self) -> list[Any]:
        return self._families


def _reader(web: Web) -> contextlib.closing[SqliteReader]:
    return contextlib.closing(open_reader(web.db_path))


DASHBOARD = Path(__file__).resolve().parents[2] / "contrib" / "grafana-dashboard.json"
METRIC_NAME = re.compile(r"\b((?:uptime|process)_[a-z0-9_]+)\b")
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")
BY_LABELS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
ADDED_BY_PROMETHEUS = {"job", "instance"}


def dashboard_queries() -> list[dict[str, str]]:
    """Every query of the dashboard: the panels' targets and the variables' queries."""
    document = json.loads(DASHBOARD.read_text())
    queries = [target for panel in document["panels"] for target in panel.get("targets", ())]
    queries += [{"expr": var["definition"]} for var in document["templating"]["list"]
                if var["type"] == "query"]
    return queries


def test_the_grafana_dashboard_queries_only_what_a_scrape_has(filled: Any) -> None:
    web, _ids, _now = filled
    scraped = parse(web.client.get("/metrics").get_data(as_text=True))
    web.context.runtime = Runtime(web.context.config, web.store, config_path=web.config_path)
    scraped |= parse(web.client.get("/metrics").get_data(as_text=True))  # -m --web's too
    labels_of: dict[str, set[str]] = {}
    for name, labels in scraped:
        labels_of.setdefault(name, set()).update(key for key, _ in labels)
    queries = dashboard_queries()
    assert len(queries) > 20
    used: set[str] = set()
    for query in queries:
        names = set(METRIC_NAME.findall(query["expr"]))
        assert names, query["expr"]
        assert names <= set(labels_of), (query["expr"], names - set(labels_of))
        used |= names
        known = set().union(*(labels_of[name] for name in names)) | ADDED_BY_PROMETHEUS
        for group in BY_LABELS.findall(query["expr"]):
            assert {label.strip() for label in group.split(",")} <= known, query["expr"]
        assert set(LEGEND_LABEL.findall(query.get("legendFormat", ""))) <= known, query
    # Every per-monitor family and the monitor's own health are on the dashboard.
    assert {spec[0] for spec in FAMILIES.values()} <= {
        name.removesuffix("_total").removesuffix("_info") for name in used}
    assert {"uptime_checks_per_second", "uptime_check_lateness_seconds",
            "uptime_writer_queue_rows", "uptime_writer_lag_seconds",
            "uptime_rows_dropped_total", "uptime_notifications_waiting"} <= used


def test_the_grafana_dashboard_is_importable_anywhere() -> None:
    document = json.loads(DASHBOARD.read_text())
    assert document["uid"] == "uptime-monitor" and document["title"]
    variables = {var["name"]: var for var in document["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in document["panels"]]
    assert len(ids) == len(set(ids))
    for panel in document["panels"]:
        if panel["type"] != "row":
            # The data source the importer chooses, never one of the author's.
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            for target in panel["targets"]:
                assert target["datasource"] == panel["datasource"]
                assert 'job=~"$job"' in target["expr"], target["expr"]


def test_the_grafana_dashboard_s_queries_are_promql(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian's prometheus) is not installed")
    rules = [{"record": f"dashboard:query_{i}",
              "expr": query["expr"].replace("$job", ".*").replace("$monitor", ".*")}
             for i, query in enumerate(dashboard_queries())
             if not query["expr"].startswith("label_values(")]
    path = tmp_path / "rules.json"  # YAML is a superset of JSON
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


RULES = DASHBOARD.parent / "prometheus-alerts.yml"
SCRAPED = {"job": "uptime", "instance": "127.0.0.1:8080"}  # the labels Prometheus adds


def test_the_alert_rules_fire_on_a_real_scrape(filled: Any, tmp_path: Path) -> None:
    """contrib's rules run by promtool's rule tests on this scrape, held for 80 minutes:
    the monitor down and the certificate close to expiry alert, named through the info
    series's join."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian's prometheus) is not installed")
    web, ids, _now = filled
    samples = parse(web.client.get("/metrics").get_data(as_text=True))
    series = [{"series": name + "{" + ",".join(
        f'{key}="{escape(value)}"' for key, value in sorted({**dict(labels),
                                                              **SCRAPED}.items())) + "}",
               "values": f"{value!r}+0x80"}
              for (name, labels), value in samples.items() if name.startswith("uptime_")]
    targets = {dict(key)["id"]: dict(key)["target"] for key in of(samples, "uptime_monitor_info")}
    api, mail = ids["api"], ids["tls"]

    def alert(monitor_id: str, severity: str, name: str = "") -> dict[str, Any]:
        labels = {"id": monitor_id, "target": targets[monitor_id], "severity": severity,
                  **SCRAPED}
        return {"exp_labels": labels | ({"name": name} if name else {})}

    down = alert(api, "critical", "api")
    down["exp_annotations"] = {
        "summary": "api is down",
        "description": f"{targets[api]} (monitor {api}) has been down for 2 minutes."}
    expiring = alert(mail, "warning")  # no name: the target says which
    expiring["exp_annotations"] = {
        "summary": "mail.example:993: certificate expires in 5 days",
        "description": "The certificate mail.example:993 serves expires in less than 14 days."}
    waiting = [{"exp_labels": {"provider": provider, "severity": "warning", **SCRAPED},
                "exp_annotations": {
                    "summary": f"1 {provider} notifications waiting for 30 minutes",
                    "description": f"Notifications through {provider} are neither sent nor"
                                   " given up."}} for provider in ("ops", "pager")]
    checks = [
        {"eval_time": "70m", "alertname": "MonitorDown", "exp_alerts": [down]},
        {"eval_time": "1m", "alertname": "MonitorDown", "exp_alerts": []},  # not for 2 min
        {"eval_time": "70m", "alertname": "MonitorCertificateExpiresSoon",
         "exp_alerts": [expiring]},
        {"eval_time": "70m", "alertname": "UptimeNotificationsWaiting", "exp_alerts": waiting},
        {"eval_time": "70m", "alertname": "UptimeMonitorNotChecking", "exp_alerts": []},
    ]
    test = tmp_path / "rules-test.yml"  # YAML is a superset of JSON
    test.write_text(json.dumps({"rule_files": [str(RULES)], "evaluation_interval": "1m",
                                "tests": [{"interval": "1m", "input_series": series,
                                           "alert_rule_test": checks}]}))
    done = subprocess.run([promtool, "test", "rules", str(test)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


SERVING = re.compile(r"Serving (http://127\.0\.0\.1:\d+/)")


def test_the_real_monitor_with_web_serves_its_metrics(tmp_path: Path) -> None:
    app.write(tmp_path / "config.json", {"monitors": [
        {"type": "tcp", "host": "127.0.0.1", "port": 9, "name": "closed",
         "checkInterval": 0.5}]})
    proc = app.start(["-m", "--plain", "--web", "127.0.0.1:0"], tmp_path)
    output = app.Output(proc, stderr=True)
    try:
        line = app.wait_for(lambda: next((text for text in output.lines
                                          if SERVING.search(text)), None),
                            timeout=20, what="the Serving line", detail=output.dump)
        url = SERVING.search(line).group(1) + "metrics"  # type: ignore[union-attr]

        def scraped() -> Samples | None:
            samples = parse(requests.get(url, timeout=10).text)
            # A check made, and a second passed since the server started (the pace's).
            return samples if of(samples, "uptime_monitor_up") and of(
                samples, "uptime_checks_per_second") else None

        samples = app.wait_for(scraped, timeout=20, what="a check in /metrics",
                               detail=output.dump)
        (info,) = of(samples, "uptime_monitor_info", name="closed", kind="tcp")
        closed = dict(info)["id"]
        assert one(samples, "uptime_monitor_up", id=closed) == 0.0
        assert one(samples, "uptime_monitor_state", id=closed, state="down") == 1.0
        assert one(samples, "uptime_info", mode="monitor") == 1.0
        assert one(samples, "uptime_checks_run_total") >= 1
        assert one(samples, "uptime_rows_written_total", table="checks") >= 1
        assert one(samples, "uptime_checks_per_second") > 0
    finally:
        app.stop(proc, signal.SIGTERM)
        output.join()
    assert proc.returncode == 0, output.dump()
