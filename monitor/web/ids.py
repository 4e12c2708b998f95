"""A monitor's id in a route: `/monitors/<monitor:id>` and `/monitors/<monitor:id>/checks`.

An id may hold slashes (an http monitor's id is its URL), so it is matched as a path, and
the server has decoded `%2F` before the routes see it. Without more, `PUT
/monitors/x/checks` would reach `PUT /monitors/<id>` with the id "x/checks". An id here
never ends with the name of a monitor's sub-resource: those paths go to the sub-resource's
routes, and a method they do not take is a 405, as the OpenAPI document says. (A monitor
whose URL itself ends in "/checks" cannot be named in a path; the list names it.)
"""

from __future__ import annotations

from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter

NAME = "monitor"  # the converter's name in routes
# The sub-resources of /monitors/{id}/...: an id never ends with one.
SUBRESOURCES = ("checks", "stats", "trend", "check", "maintenance", "pause", "resume",
                "edit", "delete", "traffic")


class MonitorIdConverter(PathConverter):
    regex = PathConverter.regex + "".join(f"(?<!/{name})" for name in SUBRESOURCES)


def install(state: BlueprintSetupState) -> None:
    """Make the converter known to the app, before a blueprint's routes are added: each
    blueprint that uses it calls `bp.record_once(install)` before its first route."""
    state.app.url_map.converters.setdefault(NAME, MonitorIdConverter)
