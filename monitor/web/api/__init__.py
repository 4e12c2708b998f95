"""The REST API, `/api/v1`: one module per resource, each a blueprint (`bp`, its routes
relative to /api/v1) and the part of the OpenAPI document that describes them (`OPENAPI`)."""

from __future__ import annotations

import importlib
from types import ModuleType

PREFIX = "/api/v1"
# The API's modules, in the order the OpenAPI document lists them.
MODULES = (
    "monitor.web.api.root",
    "monitor.web.api.monitors",
    "monitor.web.api.push",
    "monitor.web.api.events",
    "monitor.web.api.metrics",
    "monitor.web.api.history",
    "monitor.web.api.uptime",
    "monitor.web.api.dashboard",
    "monitor.web.api.alerts",
    "monitor.web.api.maintenance",
    "monitor.web.api.check",
    "monitor.web.api.traffic",
    "monitor.web.api.agents",
)


def modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in MODULES]
