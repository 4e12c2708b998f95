"""The status pages of `config.json` (`statusPages`): public pages at `/status/{slug}` that
show customers a chosen set of monitors, by group, with their state and uptime.

A page names its monitors by id or by name, and each must be one of the config's (the
loader says which reference is not, by its JSON path). A customer sees the monitors'
names, never what they check: a monitor shown on a page must have a `name` written in the
config (one a site's `plugins` make: the site's, which its name is made of).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from monitor.core import schemas
from monitor.core.fields import Fields
from monitor.core.model import Monitor

TOP_KEYS = ("statusPages",)
PAGE_KEYS = ("slug", "title", "description", "groups")
GROUP_KEYS = ("name", "monitors")
SLUG = re.compile(r"[a-z0-9-]+")
MAX_SLUG = 64
MAX_TEXT = 500  # a title, a description, a group's name: a line or a paragraph

HELP = {
    "statusPages": ("none", "public status pages at `/status/{slug}`, for customers: a list"
                            " of objects with `slug`, `title`, `description` and `groups`"
                            " (each with `name` and `monitors`, named by id or name); a page"
                            " shows its monitors' names, never their targets"),
}
PAGE_HELP = {
    "slug": ("required", f"the page's path, `/status/SLUG`: lowercase letters, digits and"
                         f" `-`, at most {MAX_SLUG}; unique"),
    "title": ("required", "the page's title, as customers see it"),
    "description": ("none", "a line of text under the title"),
    "groups": ("required", "the sections of the page, in order: a list of objects with"
                           " `name` and `monitors`"),
}
GROUP_HELP = {
    "name": ("required", "the group's heading (`Web`, `API`)"),
    "monitors": ("required", "the monitors shown, in order, each by its id or its name (it"
                             " must have a `name`: that is what the page shows)"),
}

_TEXT = {**schemas.text(), "maxLength": MAX_TEXT}
GROUP_SCHEMA = schemas.obj(
    {"name": _TEXT, "monitors": {"type": "array", "minItems": 1, "items": schemas.text()}},
    GROUP_HELP, GROUP_KEYS)
PAGE_SCHEMA = schemas.obj(
    {"slug": {"type": "string", "pattern": f"^[a-z0-9-]{{1,{MAX_SLUG}}}$"},
     "title": _TEXT, "description": _TEXT,
     "groups": {"type": "array", "minItems": 1, "items": GROUP_SCHEMA}},
    PAGE_HELP, ("slug", "title", "groups"))
SCHEMA = {"statusPages": {"type": "array", "items": PAGE_SCHEMA}}


@dataclass(frozen=True)
class StatusGroup:
    name: str
    monitors: tuple[str, ...]  # monitor ids, in the page's order


@dataclass(frozen=True)
class StatusPage:
    slug: str
    title: str
    description: str
    groups: tuple[StatusGroup, ...]

    @property
    def monitor_ids(self) -> tuple[str, ...]:
        """Every monitor of the page, each once, in the page's order."""
        return tuple(dict.fromkeys(m for group in self.groups for m in group.monitors))


def status_pages(fields: Fields, doc: dict[str, Any],
                 monitors: list[Monitor]) -> tuple[StatusPage, ...]:
    """The `statusPages` of a config document, checked against its `monitors`."""
    if "statusPages" not in doc:
        return ()
    entries = doc["statusPages"]
    if not isinstance(entries, list):
        raise fields.fail("statusPages", "must be a list of objects with \"slug\", \"title\""
                                         " and \"groups\"")
    by_id = {m.id: m for m in monitors}
    by_name: dict[str, list[Monitor]] = {}
    for monitor in monitors:
        if monitor.name:
            by_name.setdefault(monitor.name, []).append(monitor)
    pages: list[StatusPage] = []
    slugs: dict[str, str] = {}
    for index, entry in enumerate(entries):
        path = f"statusPages[{index}]"
        page = _page(fields, entry, path, by_id, by_name)
        if page.slug in slugs:
            raise fields.fail(f"{path}.slug", f"{json.dumps(page.slug)} is already the slug"
                                              f" of {slugs[page.slug]}")
        slugs[page.slug] = path
        pages.append(page)
    return tuple(pages)


def _page(fields: Fields, entry: Any, path: str, by_id: dict[str, Monitor],
          by_name: dict[str, list[Monitor]]) -> StatusPage:
    if not isinstance(entry, dict):
        raise fields.fail(path, "must be an object with \"slug\", \"title\" and \"groups\"")
    fields.check_keys(entry, PAGE_KEYS, f"{path}.")
    for key in ("slug", "title", "groups"):
        if key not in entry:
            raise fields.fail(f"{path}.{key}", "is required")
    slug = entry["slug"]
    if not isinstance(slug, str) or not SLUG.fullmatch(slug) or len(slug) > MAX_SLUG:
        raise fields.fail(f"{path}.slug", f"must be lowercase letters, digits and \"-\" (at"
                                          f" most {MAX_SLUG}), as the page's path"
                                          " /status/SLUG shows it")
    groups = entry["groups"]
    if not isinstance(groups, list) or not groups:
        raise fields.fail(f"{path}.groups", "must be a non-empty list of objects with"
                                            " \"name\" and \"monitors\"")
    return StatusPage(
        slug=slug,
        title=_text(fields, entry, "title", f"{path}.title"),
        description=_text(fields, entry, "description", f"{path}.description"),
        groups=tuple(_group(fields, group, f"{path}.groups[{number}]", by_id, by_name)
                     for number, group in enumerate(groups)))


def _group(fields: Fields, entry: Any, path: str, by_id: dict[str, Monitor],
           by_name: dict[str, list[Monitor]]) -> StatusGroup:
    if not isinstance(entry, dict):
        raise fields.fail(path, "must be an object with \"name\" and \"monitors\"")
    fields.check_keys(entry, GROUP_KEYS, f"{path}.")
    for key in GROUP_KEYS:
        if key not in entry:
            raise fields.fail(f"{path}.{key}", "is required")
    name = _text(fields, entry, "name", f"{path}.name")
    references = entry["monitors"]
    if not isinstance(references, list) or not references:
        raise fields.fail(f"{path}.monitors", "must be a non-empty list of monitors, each"
                                              " by its id or its name")
    found: list[str] = []
    for number, reference in enumerate(references):
        where = f"{path}.monitors[{number}]"
        monitor = _monitor(fields, reference, where, by_id, by_name)
        if monitor.id in found:
            raise fields.fail(where, f"{json.dumps(reference)} is already in this group")
        found.append(monitor.id)
    return StatusGroup(name=name, monitors=tuple(found))


def _monitor(fields: Fields, reference: Any, where: str, by_id: dict[str, Monitor],
             by_name: dict[str, list[Monitor]]) -> Monitor:
    """The monitor a page names: by id first, else by name (which must be one monitor's)."""
    if not isinstance(reference, str) or not reference:
        raise fields.fail(where, "must be a monitor's id or name (a string)")
    monitor = by_id.get(reference)
    if monitor is None:
        named = by_name.get(reference, [])
        if not named:
            raise fields.fail(where, f"no monitor {json.dumps(reference)} (by id or name)")
        if len(named) > 1:
            raise fields.fail(where, f"{len(named)} monitors are named"
                                     f" {json.dumps(reference)}: name one by its id")
        monitor = named[0]
    if not monitor.name:
        # Its id and target may be a URL with a path, a host or a token: never shown.
        raise fields.fail(where, f"the monitor {json.dumps(reference)} has no \"name\": a"
                                 " status page shows monitors by name only; give it one")
    site = by_id.get(monitor.parent_id) if monitor.parent_id else None
    if site is not None and not site.name:
        # A site's plugins name their monitors "<site's name>/<kind>", or, of a site with
        # no name, "<its URL>/<kind>": its host, port and path, not a name written to show.
        raise fields.fail(where, f"the monitor {json.dumps(reference)} is made by the"
                                 " plugins of a site with no \"name\", and named after its"
                                 " URL: a status page shows monitors by name only; give the"
                                 " site a \"name\"")
    return monitor


def _text(fields: Fields, entry: dict, key: str, path: str) -> str:
    text = fields.text(entry, key, path)
    if len(text) > MAX_TEXT:
        raise fields.fail(path, f"must be at most {MAX_TEXT} characters")
    return text
