"""What every kind's results and traces share (monitor/checks/trace.py): the detail made one
short printable line without secrets, quoted values, and the verdict lines."""

import pytest

from monitor.checks.trace import DETAIL_CHARS, detail, printable, quoted, verdict_lines
from monitor.core.model import CheckResult


def result(available, reason=None, detail_="", warning=False, ms=12.34) -> CheckResult:
    return CheckResult("m", 0.0, available, None, ms, reason, detail_, warning=warning)


def test_printable_makes_one_short_line():
    assert printable("a\r\n  b\tc\x00d\x1b[31m") == "a b c?d?[31m"
    assert printable("x" * 500) == "x" * DETAIL_CHARS
    assert printable("abcdef", 3) == "abc"


def test_detail_masks_the_secrets_then_shortens():
    assert detail("") == ""
    assert detail("login as ops:hunter2-secret\nfailed", ("hunter2-secret",)) == (
        "login as ops:*** failed")
    assert len(detail("\x07" * 70_000)) == DETAIL_CHARS


def test_quoted_escapes_and_cuts():
    assert quoted("220 ready\r\n") == '"220 ready\\r\\n"'
    assert quoted("héllo \u2028") == '"héllo ?"'  # a line separator is not printable
    assert quoted("x" * 70) == '"' + "x" * 60 + '"...'
    assert quoted("abcdef", 3) == '"abc"...'


@pytest.mark.parametrize(("made", "first"), [
    (result(True), "verdict: up"),
    (result(True, detail_="learning (1 of 5)"), "verdict: up (learning (1 of 5))"),
    (result(True, "tls_expiry", "certificate expires in 5.0 days", warning=True),
     "verdict: warning: tls_expiry (certificate expires in 5.0 days)"),
    (result(False, "connect", "connection refused"),
     "verdict: down: connect (connection refused)"),
    (result(False, "timeout"), "verdict: down: timeout"),
    (result(None, "offline", "no network"), "verdict: unknown: offline (no network)"),
])
def test_verdict_lines(made, first):
    assert verdict_lines(made) == [first, "response time: 12.3 ms"]
