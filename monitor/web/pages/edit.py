"""Adding, editing and deleting monitors from forms: plain HTML posts, each written by the
config editor the API uses (monitor.config.edit) and applied live.

A form is built from config.json's schema (monitor.web.forms) and carries the file's ETag
as it was shown: written over a file changed since, it is refused (409) and shown again
with what was typed and the new ETag, so a second "Save" is a choice made knowing it, and
nobody's edit is lost unseen. What the loader refuses comes back as 422 with its message
next to the field it names, every field's at once. Secrets are shown masked; a mask sent
back keeps the secret. Another kind chosen while adding shows its form holding what was
typed in the keys both kinds have (a post: a typed password stays out of the address)."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, redirect, request
from flask.typing import ResponseReturnValue

from monitor.config import SITE_KIND
from monitor.config.edit import (
    Clash,
    ConfigEditor,
    Derived,
    EditError,
    Invalid,
    NotFound,
    Result,
    Snapshot,
    Stale,
)
from monitor.core.errors import ConfigError
from monitor.web import forms, ids
from monitor.web.api.monitors import config_editor
from monitor.web.context import current
from monitor.web.pages import monitor_url, page, render
from monitor.web.problems import Problem

bp = Blueprint("edit", __name__)
bp.record_once(ids.install)
_log = logging.getLogger("monitor.web")
# A monitor's key never starts with "_". SWITCH_FIELD: the kind to show the form posted in
# (edit.js posts it when the kind chosen changes), keeping what was typed; nothing saved.
ETAG_FIELD, KIND_FIELD, SWITCH_FIELD = "_etag", "_kind", "_switch"


@bp.route("/monitors/new", methods=["GET", "POST"])
@page("write")
def new() -> ResponseReturnValue:
    """Add a monitor (`?kind=`, http unless said): a form built from the kind's schema."""
    kind = _kind(request.values.get(KIND_FIELD) or request.args.get("kind") or SITE_KIND)
    editor = config_editor(current())
    form = forms.build(kind)
    if request.method == "GET":
        return _form_page(form, _read(editor).etag, adding=True)
    if SWITCH_FIELD in request.form:
        switched = forms.carried(forms.read(form, request.form),
                                 _kind(request.form[SWITCH_FIELD]))
        return _form_page(switched, _read(editor).etag, adding=True)
    entry, form = forms.entry(forms.read(form, request.form))
    return _save(editor, form, entry, adding=True,
                 write=lambda etag: editor.add(entry, etag))


@bp.route("/monitors/<page_monitor:id>/edit", methods=["GET", "POST"])
@page("write")
def edit(id: str) -> ResponseReturnValue:  # noqa: A002 - as the API names it
    """Edit a monitor's entry in config.json (secrets masked; its kind stays)."""
    editor = config_editor(current())
    snap = _read(editor)
    shown = _shown(snap, id)
    if request.method == "GET":
        form = forms.filled(forms.build(snap.monitor(id).kind), shown)
        return _form_page(form, snap.etag, monitor_id=id, name=snap.monitor(id).name)
    # The kind the form was made for: the file may have changed since (then refused).
    form = forms.read(forms.build(_kind(request.form.get(KIND_FIELD, ""))), request.form)
    entry, form = forms.entry(form, shown)
    return _save(editor, form, entry, monitor_id=id, name=snap.monitor(id).name,
                 write=lambda etag: editor.replace(id, entry, etag))


@bp.route("/monitors/<page_monitor:id>/delete", methods=["GET", "POST"])
@page("write")
def delete(id: str) -> ResponseReturnValue:  # noqa: A002
    """Delete a monitor's entry, after a confirmation (its history stays)."""
    editor = config_editor(current())
    snap = _read(editor)
    if request.method == "GET":
        return _delete_page(snap, id)
    try:
        result = editor.delete(id, request.form.get(ETAG_FIELD) or "")
    except Stale:
        return _delete_page(_read(editor), id, _changed(editor) + " This is the entry as it"
                            " is now: delete it?", 409)
    except Invalid as exc:  # a status page names it, say: the loader's words, as for a form
        return _delete_page(snap, id, "Not deleted: " + _said(exc, editor.path), 422)
    except EditError as exc:
        raise _problem(exc, editor.path) from None
    except ConfigError as exc:
        raise Problem(503, "Service Unavailable", str(exc)) from None
    _applied(result, "deleted")
    return redirect("/", 303)


# -- inside ---------------------------------------------------------------------------------

def _kind(name: str) -> str:
    if name not in forms.kinds():
        raise Problem(400, "Bad Request", f"kind: {name!r} is not a kind of monitor (kinds:"
                      f" {', '.join(forms.kinds())})")
    return name


def _read(editor: ConfigEditor) -> Snapshot:
    try:
        return editor.read()
    except ConfigError as exc:
        raise Problem(503, "Service Unavailable", str(exc)) from None


def _shown(snap: Snapshot, monitor_id: str) -> dict[str, Any]:
    """The monitor's entry as a form may show it (secrets masked): 404, or 409 for one a
    site's plugins make."""
    try:
        shown = snap.shown(monitor_id)
    except EditError as exc:
        raise _problem(exc, snap.path) from None
    return shown if isinstance(shown, dict) else {}


def _problem(exc: EditError, path: Path) -> Problem:
    """An edit refused as an error page: a 4xx for all a user can cause (the file not
    valid now, even by hand, is a 422); only a file that cannot be written is a 503."""
    if isinstance(exc, NotFound):
        return Problem(404, "Not Found", _said(exc, path))
    if isinstance(exc, Derived | Clash | Stale):
        return Problem(409, "Conflict", _said(exc, path))
    if isinstance(exc, Invalid):
        return Problem(422, "Unprocessable Content", _said(exc, path))
    return Problem(503, "Service Unavailable", _said(exc, path))  # Unwritable


def _said(exc: EditError, path: Path) -> str:
    """The editor's message with the file named as a form's errors name it: by its name,
    not its path on the server."""
    return str(exc).replace(f"{path}: ", f"{path.name}: ")


def _save(editor: ConfigEditor, form: forms.Form, entry: dict[str, Any], *, write: Any,
          adding: bool = False, monitor_id: str | None = None,
          name: str | None = None) -> ResponseReturnValue:
    """Write the entry unless a field is not even JSON; each refusal is the form again,
    with what was typed and the error where it belongs."""
    etag = request.form.get(ETAG_FIELD) or ""
    again = functools.partial(_form_page, adding=adding, monitor_id=monitor_id, name=name)
    every_error = functools.partial(forms.every_error, entry=entry,
                                    check=_checker(editor, monitor_id),
                                    source=str(editor.path))
    if form.invalid:  # not even JSON: the other fields judged all the same, nothing written
        return again(every_error(form), etag, status=422)
    try:
        result: Result = write(etag)
    except Stale:
        # Shown again over the file as it is now: a second Save writes what was typed.
        snap = _read(editor)
        form.errors.append(_changed(editor) + " Your values are kept below: check them"
                           " against the file as it is now, then save again.")
        current_entry = None
        with contextlib.suppress(EditError):  # gone meanwhile: nothing to compare with
            current_entry = snap.shown(monitor_id) if monitor_id is not None else None
        return again(form, snap.etag, status=409, current_entry=current_entry)
    except Invalid as exc:
        form = forms.place(form, str(exc), exc.entry_pointer, exc.path,
                           source=str(editor.path))
        return again(every_error(form), etag, status=422)
    except Clash as exc:
        form = forms.place(form, str(exc), key="id")
        return again(form, etag, status=422)
    except EditError as exc:
        raise _problem(exc, editor.path) from None
    except ConfigError as exc:
        raise Problem(503, "Service Unavailable", str(exc)) from None
    _applied(result, "added" if adding else "edited")
    return redirect(monitor_url(result.monitor_id), 303)


def _checker(editor: ConfigEditor, monitor_id: str | None,
             ) -> Callable[[dict[str, Any]], Invalid | None]:
    """The editor's check of an entry alone; a file that cannot be read now, or a monitor
    gone meanwhile, stops the search for more errors (None)."""
    def check(entry: dict[str, Any]) -> Invalid | None:
        try:
            return editor.check(entry, monitor_id)
        except (EditError, ConfigError):
            return None
    return check


def _changed(editor: ConfigEditor) -> str:
    return (f"{editor.path.name} has changed since this page was shown (another edit, or"
            " by hand): nothing was saved.")


def _applied(result: Result, what: str) -> None:
    """The file as written is the server's config now; `-m --web` reloads it."""
    if result.changed:
        current().reload(result.snapshot.config, result.snapshot.etag)
        _log.info("config: monitor %r %s from a page", result.monitor_id, what)


def _form_page(form: forms.Form, etag: str, *, adding: bool = False,
               monitor_id: str | None = None, name: str | None = None, status: int = 200,
               current_entry: Any = None) -> ResponseReturnValue:
    if adding:
        title, action, cancel = f"Add a {form.kind} monitor", "/monitors/new", "/"
    else:
        assert monitor_id is not None
        title = f"Edit {name or monitor_id}"
        action, cancel = monitor_url(monitor_id, "edit"), monitor_url(monitor_id)
    first = next(iter(form.invalid), None)
    return render("edit.html", status=status, form=form, etag=etag, adding=adding,
                  kinds=forms.kinds(), title=title, action=action, cancel=cancel,
                  monitor_id=monitor_id, first_invalid=first.key if first else None,
                  etag_field=ETAG_FIELD, kind_field=KIND_FIELD, switch_field=SWITCH_FIELD,
                  current_entry=None if current_entry is None
                  else json.dumps(current_entry, indent=2, ensure_ascii=False))


def _delete_page(snap: Snapshot, monitor_id: str, error: str | None = None,
                 status: int = 200) -> ResponseReturnValue:
    shown = _shown(snap, monitor_id)  # 404 when it is gone
    monitor = snap.monitor(monitor_id)
    return render("delete.html", status=status, monitor=monitor, monitor_id=monitor_id,
                  etag=snap.etag, etag_field=ETAG_FIELD, error=error,
                  entry=json.dumps(shown, indent=2, ensure_ascii=False))
