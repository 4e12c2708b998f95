"""The API's root: where it is described, and whether the server is healthy."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from monitor import __version__
from monitor.web import openapi
from monitor.web.api import modules
from monitor.web.auth import require
from monitor.web.context import current

bp = Blueprint("root", __name__)


@bp.get("/")
@require("public")
def index() -> ResponseReturnValue:
    return jsonify({"version": __version__, "openapi": "/api/v1/openapi.json"})


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    # Public: what the API is, not what it holds (clients read it before they have a token).
    return jsonify(openapi.document(modules()))


@bp.get("/health")
@require("public")
def health() -> ResponseReturnValue:
    context = current()
    writer = context.store
    body: dict[str, Any] = {"status": "ok" if writer.fatal is None else "failing",
                            "writerLag": round(writer.lag(), 3),
                            "configError": context.config_error}
    return jsonify(body), 200 if writer.fatal is None else 503


OPENAPI: dict[str, Any] = {
    "paths": {
        "/": {"get": {
            "summary": "The API's version and where it is described",
            "operationId": "index",
            "responses": {"200": {"description": "The version", "content": {
                "application/json": {"schema": {
                    "type": "object", "required": ["version", "openapi"],
                    "properties": {"version": {"type": "string"},
                                   "openapi": {"type": "string"}}}}}}}}},
        "/openapi.json": {"get": {
            "summary": "This document",
            "operationId": "openapi",
            "security": [{}],
            "responses": {"200": {"description": "The OpenAPI document", "content": {
                "application/json": {"schema": {"type": "object"}}}}}}},
        "/health": {"get": {
            "summary": "Whether the server can record what it is sent",
            "operationId": "health",
            "responses": {
                "200": {"description": "Healthy", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Health"}}}},
                "503": {"description": "The database can record nothing more", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
            }}},
    },
    "components": {"schemas": {"Health": {
        "type": "object", "required": ["status", "writerLag", "configError"],
        "properties": {"status": {"enum": ["ok", "failing"]},
                       "writerLag": {"type": "number",
                                     "description": "seconds the oldest queued write waits"},
                       "configError": {"type": ["string", "null"],
                                       "description": "why the config file as it is now"
                                                      " cannot be used, if so"}}}}},
}
