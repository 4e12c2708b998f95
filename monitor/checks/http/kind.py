"""The `http` kind: one GET on a fresh connection, bounded in time and size, on libcurl."""

from monitor.checks import certs
from monitor.checks.http.curl import CurlLoop, debug, run
from monitor.checks.http.spec import HELP, KEYS, SCHEMA, defaults, parse
from monitor.core.kind import Kind
from monitor.core.model import CONNECTION_REASONS

REASONS = ("dns", "connect", "tls", "timeout", "http_status", "too_large",
           "invalid_response", "assertion", certs.REASON, "other")

KIND = Kind(
    name="http",
    keys=KEYS,
    parse=parse,
    reasons=REASONS,
    run=run,
    loop=CurlLoop,
    network=True,
    # An HTTP answer, even a 500, proves the network works: only these can be its loss.
    network_reasons=CONNECTION_REASONS,
    top_keys=("maxBodyBytes", *certs.KEYS),
    defaults=defaults,
    debug=debug,
    help=HELP,
    schema=SCHEMA,
)

