"""The OpenAPI 3.1 document of the API, `/api/v1/openapi.json`: the parts each API module
describes (`OPENAPI`) merged with what they share (the problem document, the bearer
scheme, the common error answers)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from monitor import __version__

PROBLEM = {
    "type": "object",
    "description": "An RFC 9457 problem document.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "pointer": {"type": "string", "description": "the JSON pointer of the field at fault"},
    },
}


def error(description: str) -> dict[str, Any]:
    """An error answer of the document: a problem document."""
    return {"description": description,
            "content": {"application/problem+json": {"schema": {
                "$ref": "#/components/schemas/Problem"}}}}


# The errors any route may answer; a module lists its own others.
COMMON_ERRORS = {
    "401": error("No token, or not one of the config's apiTokens"),
    "403": error("The token's scope does not allow this"),
}


def document(modules: list[ModuleType]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Problem": PROBLEM}
    for module in modules:
        part = module.OPENAPI
        for path, item in part.get("paths", {}).items():
            merged = paths.setdefault(path, {})
            for method, operation in item.items():
                operation.setdefault("responses", {})
                for code, answer in COMMON_ERRORS.items():
                    operation["responses"].setdefault(code, answer)
                merged[method] = operation
        schemas.update(part.get("components", {}).get("schemas", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Uptime monitor API", "version": __version__,
                 "description": "Monitors, their checks, stats and alerts; push monitors,"
                                " the metrics tree and remote agents. Errors are RFC 9457"
                                " problem documents."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a token of the config's"
                                                          " apiTokens"},
                                # The agent routes': an agent's token, and only there.
                                "agent": {"type": "http", "scheme": "bearer",
                                          "description": "a token of the config's agents"}},
        },
    }
