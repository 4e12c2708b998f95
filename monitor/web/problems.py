"""Errors as RFC 9457 problem documents (`application/problem+json`).

Routes raise `Problem`; everything else that goes wrong in a request (a route that does
not exist, a method it does not take, a body too large, an unexpected exception) is turned
into a problem document here too, so that a client never gets an HTML page or a traceback.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from monitor.core import secrets

MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger("monitor.web")


class Problem(Exception):
    """An error answer: `status`, a short `title` (the same for every problem of its kind),
    a `detail` for this occurrence, and extension members (`pointer`, `errors`...)."""

    def __init__(self, status: int, title: str, detail: str = "",
                 headers: dict[str, str] | None = None, **extensions: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": "about:blank", "title": self.title,
                               "status": self.status}
        if self.detail:
            doc["detail"] = self.detail
        doc.update(self.extensions)
        return doc


def response(problem: Problem) -> Response:
    body = json.dumps(problem.document())
    answer = Response(body, status=problem.status, mimetype=MEDIA_TYPE)
    answer.headers.update(problem.headers)
    return answer


Page = Callable[[Problem], Response]


def install(app: Flask, page: Page | None = None,
            is_page: Callable[[], bool] = lambda: False) -> None:
    """Answer every error of `app` with a problem document; an error of a web page (as
    `is_page` tells) with the page `page` makes of it."""

    def answer(problem: Problem) -> Response:
        if page is not None and is_page():
            return page(problem)
        return response(problem)

    @app.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        return answer(problem)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        headers = dict(exc.get_headers())
        headers.pop("Content-Type", None)
        # werkzeug's descriptions are written for people, about the request: kept as detail.
        return answer(Problem(status, exc.name, exc.description or "", headers=headers))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # A defect of ours: logged (without secrets) for the operator, never sent.
        _log.error("unexpected error: %s", secrets.redact_known(traceback.format_exc()))
        return answer(Problem(500, "Internal Server Error",
                              "an unexpected error; the server's log says more"))
