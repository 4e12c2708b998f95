"""Whether apprise can send to a provider URL, and if not, what is wrong with it, in words
that never quote the URL or a part of it (all of it may be a credential): the scheme, the
service's name and the names of its fields, from apprise's own registry of services.

- no scheme: said so, with examples;
- http(s)://: a web address, not a service: a webhook is jsons:// or json://;
- a scheme apprise does not know: the closest it knows (difflib), or where the list is;
- a service whose Python package is not installed: which package;
- a known service: the fields of its URL form that are missing ({token_b}) or not in the
  form the service takes, with that form (slack://{token_a}/{token_b}/{token_c}).

apprise's public API only: `Apprise.instantiate` for the verdict, `Apprise.details()` for
the services, their schemes, URL templates and fields, and the plugin's own `parse_url`
(through `NotificationManager`) for which fields a URL gives.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

APPRISE_LIST = "https://github.com/caronc/apprise/wiki"
NO_SCHEME = ("does not start with a service's scheme (scheme://...: json://host/path,"
             " mailto://user:password@host...)")
WEB_ADDRESS = ("is a web address, not an apprise service: for a webhook write jsons:// (JSON"
               " over https; json:// over http) or forms:// (a form post) before the same"
               " host and path")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,31}")
_FIELD = re.compile(r"\{(\w+)\}")


class _Quiet(logging.Filter):
    """Drops apprise's log records on the thread that is validating a URL: apprise logs a
    URL it cannot parse in full ("Unparseable URL ..."), secrets and all, and any logging
    set up in the process (or a library's) would print it."""

    local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.local, "on", False)


_quiet = _Quiet()
_quiet_lock = threading.Lock()


@contextmanager
def _apprise_quiet() -> Iterator[None]:
    logger = logging.getLogger("apprise")
    with _quiet_lock:
        if _quiet not in logger.filters:
            logger.addFilter(_quiet)
    _quiet.local.on = True
    try:
        yield
    finally:
        _quiet.local.on = False


def problem(url: str) -> str | None:
    """None if apprise makes a notification service of `url` (parses it, knows the scheme,
    the plugin takes its parts; nothing is sent); else what is wrong, without any part of
    the URL but its scheme."""
    import apprise  # here: 0.1 s to import, for configs with providers only

    with _apprise_quiet():
        try:
            if apprise.Apprise.instantiate(url) is not None:
                return None
        except Exception:  # noqa: BLE001, S110 - a plugin that chokes on odd input: said below
            pass
        try:
            return _diagnose(url)
        except Exception:  # noqa: BLE001 - apprise's data not as expected: the plain verdict
            return "is not a URL apprise can send to"


def _diagnose(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or not _SCHEME.fullmatch(scheme):
        return NO_SCHEME
    if scheme in ("http", "https"):
        return f"{scheme}:// {WEB_ADDRESS}"
    services = _services()
    service = services.get(scheme)
    if service is None:
        close = difflib.get_close_matches(scheme, list(services), n=3, cutoff=0.6)
        hint = (f"closest: {', '.join(f'{c}://' for c in close)}" if close
                else f"apprise's services and their schemes: {APPRISE_LIST}")
        return f"unknown scheme {scheme}:// ({hint})"
    name = f"{scheme}:// ({service['service_name']})"
    if not service.get("enabled", True):
        needs = (service.get("requirements") or {}).get("packages_required") or []
        if needs:
            return (f"{name} needs the Python package {', '.join(map(str, needs))},"
                    " not installed here")
        return f"{name} cannot be used on this system"
    details = service.get("details") or {}
    templates = [str(t) for t in details.get("templates") or ()]
    tokens: Mapping[str, Any] = details.get("tokens") or {}
    if not templates:
        return f"{name}: apprise does not take its parts"
    if not rest:  # nothing after the scheme: the service's first (main) form
        fields = _fields(templates[0])
        needed = [f for f in fields if (tokens.get(f) or {}).get("required")] or fields
        return f"{name} is missing {_names(needed)}: the form is {_form(scheme, templates[0])}"
    given = _parsed(scheme, url)
    if given is None:
        return (f"{name}: its parts are not in the form the service takes:"
                f" {_form(scheme, templates[0])}")
    template, missing, invalid = _closest(templates, tokens, given)
    form = _form(scheme, template)
    if missing:
        return f"{name} is missing {_names(missing)}: the form is {form}"
    if invalid:
        verb = "is" if len(invalid) == 1 else "are"
        return f"{name}: {_names(invalid)} {verb} not in the form the service takes: {form}"
    return f"{name}: apprise does not take its parts; the form is {form}"


@functools.lru_cache(maxsize=1)
def _services() -> dict[str, dict[str, Any]]:
    """Each scheme apprise knows (lowercase) -> its service's details, those whose package
    is missing included."""
    import apprise

    found: dict[str, dict[str, Any]] = {}
    details = apprise.Apprise().details(show_requirements=True, show_disabled=True)
    for service in details["schemas"]:
        service = {**service, "service_name": str(service["service_name"])}
        for scheme in [*(service.get("protocols") or ()),
                       *(service.get("secure_protocols") or ())]:
            found.setdefault(str(scheme).lower(), service)
    return found


def _parsed(scheme: str, url: str) -> dict[str, Any] | None:
    """The fields the service's plugin reads from `url` (its arguments by name), or None if
    it cannot read it."""
    import apprise

    try:
        plugin = apprise.NotificationManager()[scheme]
        result = plugin.parse_url(url)
    except Exception:  # noqa: BLE001 - unreadable: said as such
        return None
    return result if isinstance(result, dict) else None


def _closest(templates: list[str], tokens: Mapping[str, Any], given: Mapping[str, Any],
             ) -> tuple[str, list[str], list[str]]:
    """The URL form `given` comes closest to (most of its fields given, then fewest
    missing, then the simplest), with its required fields missing and its given fields that
    are not in the form the service takes."""
    best: tuple[tuple[int, int, int], str, list[str], list[str]] | None = None
    for template in templates:
        fields = _fields(template)
        present, missing, invalid = 0, [], []
        for field in fields:
            info = tokens.get(field) or {}
            value = given.get(info.get("map_to") or field)
            if value in (None, "", [], {}):
                if info.get("required"):
                    missing.append(field)
                continue
            present += 1
            if isinstance(value, str) and not _takes(info, value):
                invalid.append(field)
        score = (present, -len(missing) - len(invalid), -len(fields))
        if best is None or score > best[0]:
            best = (score, template, missing, invalid)
    assert best is not None
    return best[1], best[2], best[3]


def _takes(info: Mapping[str, Any], value: str) -> bool:
    """Whether `value` matches the field's regex, if it has one."""
    regex = info.get("regex")
    if not regex:
        return True
    pattern, flags = (regex[0], regex[1] if len(regex) > 1 else "")
    flag = re.IGNORECASE if "i" in str(flags) else 0
    try:
        return re.match(pattern, value, flag) is not None
    except re.error:
        return True


def _fields(template: str) -> list[str]:
    return [f for f in dict.fromkeys(_FIELD.findall(template)) if f != "schema"]


def _form(scheme: str, template: str) -> str:
    return template.replace("{schema}", scheme)


def _names(fields: list[str]) -> str:
    return ", ".join(f"{{{f}}}" for f in fields)
