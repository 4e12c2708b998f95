"""The web server: a Flask app over one monitor's config file and database.

`create_app(context)` builds it; `monitor.web.serve` runs it behind waitress, as `serve`
and `-m --web` do. Routes live in monitor.web.api (the REST API at /api/v1) and
monitor.web.prometheus (/metrics, at the root as Prometheus expects); the web pages in
monitor.web.pages, their templates and static files beside."""

from __future__ import annotations

from flask import Flask
from flask_compress import Compress

from monitor.web import badges, pages, problems, prometheus, security, session
from monitor.web.api import PREFIX, modules
from monitor.web.context import EXTENSION, WebContext

# A request body larger than this is refused (413) before it is read; a route that takes
# more (a batch of metrics) says so itself.
MAX_BODY = 1024 * 1024
# Compressed when the client takes it: the pages, their scripts and the API's documents.
# Never an event stream (each event must go out as it comes).
COMPRESSED = ["text/html", "text/css", "text/javascript", "application/javascript",
              "application/json", "application/problem+json", "image/svg+xml",
              "text/plain"]


def create_app(context: WebContext) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config.update(COMPRESS_MIMETYPES=COMPRESSED, COMPRESS_STREAMS=False,
                      COMPRESS_MIN_SIZE=1024, COMPRESS_ALGORITHM=["br", "gzip"],
                      COMPRESS_LEVEL=6, COMPRESS_BR_LEVEL=4)
    Compress(app)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # documents in their own order
    app.json.compact = True  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = context
    session.install(app, context)
    problems.install(app, page=pages.error_page, is_page=pages.is_page)
    security.install(app)
    for module in modules():
        app.register_blueprint(module.bp, url_prefix=PREFIX)
    app.register_blueprint(prometheus.bp)
    app.register_blueprint(badges.bp)
    pages.register(app)
    return app
