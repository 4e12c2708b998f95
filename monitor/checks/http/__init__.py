"""The `http` kind: one GET on a fresh connection, bounded in time and size."""

from monitor.checks.http.fetch import http_check
from monitor.checks.http.spec import KEYS, HttpSpec, defaults, http_monitor, parse
from monitor.checks.model import Kind
from monitor.checks.registry import register

REASONS = ("dns", "connect", "tls", "timeout", "http_status", "too_large",
           "invalid_response", "other")

KIND = register(Kind(
    name="http",
    keys=KEYS,
    parse=parse,
    reasons=REASONS,
    run=http_check,
    network=True,
    # An HTTP answer, even a 500, proves the network works: only these can be its loss.
    network_reasons=frozenset({"dns", "connect", "timeout"}),
    top_keys=("maxBodyBytes",),
    defaults=defaults,
))

__all__ = ["KIND", "HttpSpec", "http_monitor"]
