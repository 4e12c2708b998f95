"""The web server: a Flask app over one monitor's config file and database.

`create_app(context)` builds it; `monitor.web.serve` runs it behind waitress, as `serve`
and `-m --web` do. Routes live in monitor.web.api (the REST API at /api/v1) and
monitor.web.prometheus (/metrics, at the root as Prometheus expects)."""

from __future__ import annotations

from flask import Flask

from monitor.web import badges, problems, prometheus
from monitor.web.api import PREFIX, modules
from monitor.web.context import EXTENSION, WebContext

# A request body larger than this is refused (413) before it is read; a route that takes
# more (a batch of metrics) says so itself.
MAX_BODY = 1024 * 1024


def create_app(context: WebContext) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json.sort_keys = False  # type: ignore[attr-defined]  # documents in their own order
    app.json.compact = True  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = context
    problems.install(app)
    for module in modules():
        app.register_blueprint(module.bp, url_prefix=PREFIX)
    app.register_blueprint(prometheus.bp)
    app.register_blueprint(badges.bp)
    return app
