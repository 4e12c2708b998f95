"""Results that warn: up for availability, counted apart by reason in the stats (from the
aggregates and from raw checks alike), the monitor's warning now kept in its state, shown
as "warning" in the views."""

from __future__ import annotations

from pathlib import Path

from monitor.core.model import CheckResult
from monitor.render.view import UP, WARNING, counts, fit, state_of, worst_first
from monitor.stats import window_stats
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.writer import Store
from tests.support.db import query

BASE = 1_700_000_040.0  # a whole minute
SITE = "https://a.example/"


def result(ts: float, state: str, reason: str | None = None, detail: str = "") -> CheckResult:
    return CheckResult(monitor_id=SITE, timestamp=ts, available=state != "down", code=200,
                       response_ms=10.0, reason=reason, detail=detail, mono=ts,
                       warning=state == "warning", metrics={"cert_days": 5.0})


def fill(path: Path, results: list[CheckResult]) -> None:
    store = Store(path)
    try:
        for r in results:
            store.put_check(r)
        store.flush()
    finally:
        store.close()


def test_a_warning_is_up_and_counted_apart(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    fill(db, [result(BASE + 1 + i, "up") for i in range(4)]
         + [result(BASE + 5 + i, "warning", "tls_expiry", "certificate expires in 5.0 days")
            for i in range(3)]
         + [result(BASE + 8, "down", "http_status", "HTTP 503")])
    reader = open_reader(db)
    try:
        # Whole minutes come from the aggregates; a window starting mid-minute from raw rows.
        for start in (BASE, BASE + 0.5):
            stats = window_stats(reader, start, BASE + 59)[SITE]
            assert stats.availability == 7 / 8
            assert stats.warnings == {"tls_expiry": 3}
            assert stats.warned == 3
            assert stats.reasons == {"http_status": 1}  # failures only
        # The newest check was down: no warning now.
        assert reader.warnings() == {}
    finally:
        reader.close()
    assert query(db, "SELECT count(*) FROM website_monitoring WHERE warning = 1") == [(3,)]
    # How the minute's outcomes are written: the storage format itself.
    assert query(db, "SELECT outcomes FROM aggregates WHERE span = 60") == [
        ("200:8,~tls_expiry:3,http_status:1",)]


def test_the_warning_now_is_the_newest_checks(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    fill(db, [result(BASE, "up"),
              result(BASE + 1, "warning", "tls_expiry", "certificate expires in 5.0 days")])
    reader = open_reader(db)
    try:
        assert reader.warnings() == {SITE: "tls_expiry: certificate expires in 5.0 days"}
    finally:
        reader.close()
    fill(db, [result(BASE + 2, "up")])  # a new writer, as after a restart: it clears
    reader = open_reader(db)
    try:
        assert reader.warnings() == {}
        stats = window_stats(reader, BASE, BASE + 59)
        assert stats[SITE].warnings == {"tls_expiry": 1}
    finally:
        reader.close()


def test_views_show_warning(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    fill(db, [result(BASE + i, "up") for i in range(3)])
    reader = open_reader(db)
    try:
        stats = window_stats(reader, BASE, BASE + 59)
    finally:
        reader.close()
    s = stats[SITE]
    assert state_of(s) == UP
    assert state_of(s, warning=True) == WARNING
    assert counts([s], warning=lambda host: host == SITE)[WARNING] == 1
    assert worst_first([s], {}, warning=lambda host: True) == [s]
    layout = fit([s], {}, None)
    titles = [c.title for c in layout.columns]
    assert "cert days" in titles
    assert layout.cells(s, SITE)[titles.index("cert days")] == "5"
    assert "warnings" not in titles  # no warning in the window: no column of dashes
