"""A monitor's id in a route: `/monitors/<monitor:id>` and `/monitors/<monitor:id>/checks`.

An id may hold slashes (an http monitor's id is its URL), so it is matched as a path, and
the server has decoded `%2F` before the routes see it. Without more, `PUT
/monitors/x/checks` would reach `PUT /monitors/<id>` with the id "x/checks". An id here
never ends with the name of a monitor's sub-resource: those paths go to the sub-resource's
routes, and a method they do not take is a 405, as the OpenAPI document says. (A monitor
whose URL itself ends in "/checks" cannot be named in a path; the list names it.)

The API's routes and the badges take `<monitor:id>`, which excludes the API's sub-resources
only; the pages take `<page_monitor:id>`, which excludes the pages' below a monitor too
(`/monitors/{id}/edit`): a monitor whose URL ends in "/edit" has no page of its own, but
the API and the badges name it.
"""

from __future__ import annotations

from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter

NAME, PAGE_NAME = "monitor", "page_monitor"  # the converters' names in routes
# The sub-resources of /api/v1/monitors/{id}/...: an id never ends with one.
SUBRESOURCES = ("checks", "stats", "trend", "check", "maintenance", "pause", "resume",
                "traffic")
# And the pages' below /monitors/{id}/..., for the pages' ids.
PAGE_SUBRESOURCES = (*SUBRESOURCES, "edit", "delete")


def _excluding(names: tuple[str, ...]) -> str:
    return PathConverter.regex + "".join(f"(?<!/{name})" for name in names)


class MonitorIdConverter(PathConverter):
    regex = _excluding(SUBRESOURCES)


class PageMonitorIdConverter(PathConverter):
    regex = _excluding(PAGE_SUBRESOURCES)


def install(state: BlueprintSetupState) -> None:
    """Make the converters known to the app, before a blueprint's routes are added: each
    blueprint that uses one calls `bp.record_once(install)` before its first route."""
    state.app.url_map.converters.setdefault(NAME, MonitorIdConverter)
    state.app.url_map.converters.setdefault(PAGE_NAME, PageMonitorIdConverter)
