"""A monitor's form, built from config.json's JSON Schema (monitor.config.schema): the keys
every monitor has and its kind's, each with the description its help text makes.

Each key's shape picks its control: a string is a text input; an integer or a number a
number input (bounds from the schema); a boolean a checkbox; an enum a select; a list of
strings a textarea of one per line; a number-or-duration a text input; anything else
(objects, a string or a list) a JSON textarea. The form's values make a config entry again:
only the keys given, an empty field left out, so that an entry shown then sent back
unchanged is the entry as it was (`entry(fields(kind, e), values(e), e) == e`).

A browser changes some strings: an input drops CR and LF, a textarea sends line breaks as
CRLF, and spaces at an end go unseen. Such a string (and one that would be read as another
value: empty, itself a JSON string, a number in a number's field) is shown in an input as
a JSON string on one line, `"PING\\r\\n"`; an input holding a JSON string gives that string.

Nothing here judges a value beyond turning text into JSON: the loader does, with the
messages config.json gets, and `place` puts each next to its field; `every_error` asks it
about the other fields after its first error, so that one submit shows them all."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from markupsafe import Markup, escape

from monitor.config import SITE_KIND, notify, rules
from monitor.config.edit import Invalid
from monitor.config.schema import config_schema

TEXT, NUMBER, SCALAR, CHECKBOX, SELECT, LINES, JSON = (
    "text", "number", "scalar", "checkbox", "select", "lines", "json")
# The form's order: what it checks (the kind's required keys, else its first) and these;
# then the kind's other keys; then, folded, what a new monitor rarely needs: the kind's
# ADVANCED keys and MORE, the alert rules, the notifications.
ESSENTIALS = ("name", "checkInterval", "timeout", "tags")
MORE = ("id", "paused")
FOLDED = (("Alerts", ("alertWindow", "alertThreshold", *rules.KEYS)),
          ("Notifications", notify.MONITOR_KEYS))
_TLS = ("tlsVerify", "caFile", "tlsMinDaysLeft", "tlsFailDaysLeft")
ADVANCED = {"http": ("maxBodyBytes", "headers", *_TLS, "plugins"),
            "content": ("maxBodyBytes", "headers", *_TLS),
            "tls": ("serverName", "tlsVerify", "caFile"),
            "dns": ("server", "port", "tcp"),
            "log": ("fromStart",)}
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_DEFAULT = re.compile(r"\(default: `(true|false)`\)")
# Characters a string is quoted for: browsers drop or change some, none can be seen.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ACRONYMS = {"url": "URL", "tls": "TLS", "ca": "CA", "dns": "DNS", "tcp": "TCP", "id": "ID"}


@dataclass(frozen=True)
class Field:
    """One key's control, and what it holds now (`text`, or `checked` for a checkbox)."""

    key: str
    widget: str
    help: str = ""
    required: bool = False
    options: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    default: bool | None = None  # a boolean's value when left out
    strings: bool = False  # a JSON field that takes a plain string too
    text: str = ""
    checked: bool = False
    error: str | None = None

    @property
    def label(self) -> str:
        """`checkInterval` as "Check interval", `tlsMinDaysLeft` as "TLS min days left"."""
        words = re.findall(r"[A-Z]{2,}(?![a-z])|[A-Z]?[a-z0-9]+|[A-Z]", self.key) or [self.key]
        words = [_ACRONYMS.get(w.lower(), w.lower()) for w in words]
        first = words[0]
        return " ".join([first[:1].upper() + first[1:], *words[1:]])

    @property
    def help_html(self) -> Markup:
        """The description as a sentence (a capital, a full stop: the field's format hint
        follows it), its `code` spans as <code>."""
        text = self.help.strip()
        text = text[:1].upper() + text[1:] if text[:1].islower() else text
        text += "." if text and text[-1] not in ".!?" else ""
        parts = str(escape(text)).split("`")
        return Markup("".join(f"<code>{part}</code>" if index % 2 else part
                              for index, part in enumerate(parts)))

    @property
    def dom_id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", lambda m: f"_{ord(m[0]):x}", self.key)

    @property
    def step(self) -> str:
        return "1" if self.integer else "any"

    @property
    def as_text(self) -> bool:
        """A number field holding a string (`${PORT}`): shown as text, kept as typed."""
        return self.widget == NUMBER and self.text != "" and not _NUMBER.fullmatch(
            self.text.strip())

    @property
    def quoted(self) -> bool:
        """An input holding a string as JSON (`"PING\\r\\n"`), read back as that string (a
        select's value too: shown in an input, as no option holds it)."""
        return self.widget in (TEXT, SELECT, NUMBER, SCALAR) and _string(self.text) is not None


@dataclass(frozen=True)
class Section:
    title: str
    fields: tuple[Field, ...]
    folded: bool = False

    @property
    def open(self) -> bool:
        """A folded section opens when it holds a value or an error."""
        return not self.folded or any(f.text or f.checked != bool(f.default) or f.error
                                      for f in self.fields)


@dataclass
class Form:
    """The form of a kind, its sections, and errors that belong to no field."""

    kind: str
    sections: list[Section]
    errors: list[str] = field(default_factory=list)

    @property
    def fields(self) -> list[Field]:
        return [f for section in self.sections for f in section.fields]

    @property
    def invalid(self) -> list[Field]:
        return [f for f in self.fields if f.error]


@functools.cache
def _schema() -> dict[str, Any]:
    # Made from the registry's tables once (about 0.1 s): kinds are registered at import.
    return config_schema()


def kinds() -> list[str]:
    return sorted(name.removeprefix("kind.") for name in _schema()["$defs"]
                  if name.startswith("kind."))


def shapes(kind: str) -> tuple[dict[str, dict[str, Any]], frozenset[str]]:
    """The kind's keys and the common ones (without `type`), as the schema has them, and
    those required. KeyError for a kind the schema does not know."""
    defs = _schema()["$defs"]
    own = defs[f"kind.{kind}"]
    common = {k: v for k, v in defs["monitor"]["properties"].items() if k != "type"}
    return {**own["properties"], **common}, frozenset(own.get("required", ()))


def build(kind: str) -> Form:
    """The empty form of `kind`, in the order of ESSENTIALS' comment."""
    properties, required = shapes(kind)
    made = {key: _field(key, shape, key in required) for key, shape in properties.items()}
    common = {*ESSENTIALS, *MORE, *(key for _, keys in FOLDED for key in keys)}
    own = [key for key in properties if key not in common]
    target = [key for key in own if key in required] or own[:1]
    advanced = [key for key in own if key in ADVANCED.get(kind, ()) and key not in target]
    groups = [("Monitor", [*target, *ESSENTIALS], False),
              (f"Check ({kind})", [k for k in own if k not in target + advanced], False),
              ("More options", [*advanced, *MORE], True),
              *((title, list(keys), True) for title, keys in FOLDED)]
    sections = [Section(title, tuple(made[k] for k in keys if k in made), folded)
                for title, keys, folded in groups]
    return Form(kind, [s for s in sections if s.fields])


def carried(sent: Form, kind: str) -> Form:
    """The form of `kind` holding what `sent` (another kind's, as posted) holds in the keys
    both kinds have alike (name, tags, checkInterval...; tcp's host for tls): a kind
    changed, what was typed is kept. A key of another shape (http's `expect`, an object;
    tcp's, a pattern) starts empty."""
    theirs, _ = shapes(sent.kind)
    mine, _ = shapes(kind)
    values = {f.key: f for f in sent.fields}

    def alike(key: str) -> bool:
        return key in theirs and _shape(theirs[key]) == _shape(mine[key])

    return _each(build(kind), lambda f: replace(
        f, text=values[f.key].text, checked=values[f.key].checked) if alike(f.key) else f)


def _shape(fragment: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fragment.items() if k != "description"}


def _field(key: str, shape: Mapping[str, Any], required: bool) -> Field:
    help_text = str(shape.get("description", ""))
    base = Field(key, JSON, help_text, required)
    kind = shape.get("type")
    if "enum" in shape:
        return replace(base, widget=SELECT, options=tuple(_option(o) for o in shape["enum"]))
    if kind == "string":
        return replace(base, widget=TEXT)
    if kind in ("integer", "number"):
        low = shape.get("minimum", shape.get("exclusiveMinimum"))
        return replace(base, widget=NUMBER, minimum=low, maximum=shape.get("maximum"),
                       integer=kind == "integer")
    if kind == "boolean":
        found = _DEFAULT.search(help_text)
        default = found is not None and found[1] == "true"
        return replace(base, widget=CHECKBOX, default=default, checked=default)
    if kind == "array" and _strings(shape.get("items", {})):
        return replace(base, widget=LINES)
    branches = shape.get("anyOf", ())
    types = {b.get("type") for b in branches}
    if branches and types <= {"number", "integer", "string"} and "string" in types:
        return replace(base, widget=SCALAR)  # a duration: 30 or "30s"
    return replace(base, strings=not shape or "string" in types)


def _strings(items: Mapping[str, Any]) -> bool:
    return items.get("type") == "string" or all(
        isinstance(o, str) for o in items.get("enum", [None]))


def _option(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# -- entry -> form ------------------------------------------------------------------------------

def filled(form: Form, entry: Mapping[str, Any]) -> Form:
    """The form holding an entry's values (as shown: its secrets masked)."""
    return _each(form, lambda f: _shown(f, entry[f.key]) if f.key in entry else f)


def _shown(f: Field, value: Any) -> Field:
    if f.widget == CHECKBOX:
        return replace(f, checked=value is True)
    if f.widget in (TEXT, SELECT) and isinstance(value, str):
        return replace(f, text=_dumps(value) if _odd(value) else value)
    if f.widget in (NUMBER, SCALAR) and isinstance(value, str):
        return replace(f, text=_dumps(value) if _odd(value) or _NUMBER.fullmatch(
            value.strip()) else value)
    if f.widget in (NUMBER, SCALAR) and _is_number(value):
        return replace(f, text=json.dumps(value))
    if (f.widget == LINES and isinstance(value, list) and value
            and all(isinstance(v, str) and not _odd(v) and not v.startswith("[")
                    for v in value)):
        return replace(f, text="\n".join(value))
    if (isinstance(value, str) and f.widget == JSON and f.strings and not _is_json(value)
            and not _odd(value)):
        return replace(f, text=value)  # a plain string, shown without its quotes
    return replace(f, text=_dumps(value, indent=2 if isinstance(value, dict) and value
                                  else None))


def _odd(text: str) -> bool:
    """A string a browser would not give back as it is, or that would read as another
    value: empty, spaces at an end, a control character, itself a JSON string."""
    return (text == "" or text.strip() != text or _CONTROL.search(text) is not None
            or _string(text) is not None)


def _dumps(value: Any, indent: int | None = None) -> str:
    """JSON with every character of _CONTROL in a string escaped: its only line breaks are
    the indent's (json.dumps escapes the others of C0 itself)."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return _CONTROL.sub(lambda m: m[0] if m[0] == "\n" else f"\\u{ord(m[0]):04x}", text)


def _string(text: str) -> str | None:
    """The string `text` is the JSON of (`"a\\tb"`), else None."""
    text = text.strip()
    if not (len(text) >= 2 and text[0] == text[-1] == '"'):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


# -- form -> entry ------------------------------------------------------------------------------

def read(form: Form, values: Mapping[str, str]) -> Form:
    """The form holding what was sent (`values`: the posted fields)."""
    def sent(f: Field) -> Field:
        if f.widget == CHECKBOX:
            return replace(f, checked=f.key in values, text="")
        text = values.get(f.key, "")
        # A textarea's line breaks come as CRLF; an input's value is taken as sent.
        return replace(f, text=text.replace("\r\n", "\n") if f.widget in (LINES, JSON)
                       else text)
    return _each(form, sent)


def entry(form: Form, original: Mapping[str, Any] | None = None,
          ) -> tuple[dict[str, Any], Form]:
    """The entry the form's values make, and the form with the errors of values that are
    not even JSON. Keys in the order of `original` (the entry edited), then the form's;
    a key the kind does not have is dropped; `type` kept unless it is http, unwritten."""
    original = original or {}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in form.fields:
        try:
            found = _value(f, original)
        except ValueError as exc:
            errors[f.key] = str(exc)
            continue
        if found is not _OMIT:
            values[f.key] = found
    if form.kind != SITE_KIND or "type" in original:
        values["type"] = form.kind
    order = [*original, "type", *(f.key for f in form.fields)]
    made = {key: values[key] for key in dict.fromkeys(order) if key in values}
    return made, _each(form, lambda f: replace(f, error=errors[f.key])
                       if f.key in errors else f)


_OMIT = object()


def _value(f: Field, original: Mapping[str, Any]) -> Any:
    if f.widget == CHECKBOX:
        # Written when it says something: not the default, or the entry wrote it.
        if f.checked == f.default and f.key not in original:
            return _OMIT
        return f.checked
    text = f.text
    if text == "":  # only an empty field is no key: spaces are a value, judged by the loader
        return _OMIT
    string = _string(text) if f.widget in (TEXT, SELECT, NUMBER, SCALAR) else None
    if string is not None:
        return string
    if f.widget in (TEXT, SELECT):
        return text
    if f.widget in (NUMBER, SCALAR):
        stripped = text.strip()
        return json.loads(stripped) if _NUMBER.fullmatch(stripped) else text
    if f.widget == LINES and not text.lstrip().startswith("["):
        return [line.strip() for line in text.split("\n") if line.strip()]
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if f.strings and f.widget == JSON:
            return text
        what = exc.msg.removesuffix(" at").removesuffix(" starting")
        raise ValueError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {what}"
                         ) from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None


# -- errors ------------------------------------------------------------------------------------

def place(form: Form, message: str, entry_pointer: str | None = None,
          path: str | None = None, key: str | None = None, source: str = "") -> Form:
    """The form with an error of the loader's: at the field its pointer names (`/port`;
    `/expect/status` at `expect`), or at `key`'s, else among the form's own errors. At a
    field the message is the loader's after its path; among the form's, after the file's
    name (`monitors[3]: must be ...`)."""
    text = message.removeprefix(f"{source}: ") if source else message
    after = f"{path}: " if path is not None else None
    at_field = text.split(after, 1)[1] if after and after in text else text
    if entry_pointer:
        first, _, rest = entry_pointer[1:].partition("/")
        key = _unescape(first)
        if rest:  # where in the field's value: `status: must be ...`
            at_field = ".".join(_unescape(step) for step in rest.split("/")) + ": " + at_field
    if key is not None and any(f.key == key for f in form.fields):
        return _each(form, lambda f: replace(f, error=at_field) if f.key == key else f)
    placed = _each(form, lambda f: f)
    placed.errors.append(text)
    return placed


def every_error(form: Form, entry: Mapping[str, Any],
                check: Callable[[dict[str, Any]], Invalid | None], source: str = "") -> Form:
    """The form with the loader's errors of its other fields too, after a first: `check`
    (the editor's) judges the entry again without the fields found wrong, each next error
    put at its field, until the rest passes or an error is at no new field. A required key
    left out is stood in for by a value the loader takes (STAND_INS), so that the keys
    after it are read; an error that names a key left out (`warnPercent (90) must be below
    maxPercent`) judged a value not given: that key is left out too, unsaid."""
    wrong = {f.key for f in form.invalid}
    keys = {f.key for f in form.fields}
    left_out = set(wrong)
    stand_ins: dict[str, Any] = {}
    while True:
        trial = {k: v for k, v in entry.items() if k not in left_out}
        error = check({**trial, **stand_ins})
        key = _key(error)
        if error is None or key is None or key not in keys or key in stand_ins:
            return form
        if key in left_out:  # missing now: a stand-in the loader takes, else no further
            value = next((v for v in STAND_INS
                          if _key(check({**trial, **stand_ins, key: v})) != key), _OMIT)
            if value is _OMIT:
                return form
            stand_ins[key] = value
            continue
        said = str(error).split(f"{error.path}: ", 1)[-1]
        if not any(re.search(rf"\b{re.escape(k)}\b", said) for k in left_out):
            form = place(form, str(error), error.entry_pointer, error.path, source=source)
        left_out.add(key)


# Values tried for a required key left out: a URL, a host, a path, a port, a duration.
STAND_INS: tuple[Any, ...] = ("http://127.0.0.1/", "127.0.0.1", "/", 1, 60)


def _key(error: Invalid | None) -> str | None:
    """The entry's key an error is at (`/expect/status`: expect)."""
    if error is None or not error.entry_pointer:
        return None
    return _unescape(error.entry_pointer[1:].partition("/")[0])


# -- inside ------------------------------------------------------------------------------------

def _each(form: Form, change: Any) -> Form:
    sections = [replace(s, fields=tuple(change(f) for f in s.fields)) for s in form.sections]
    return Form(form.kind, sections, list(form.errors))


def _unescape(step: str) -> str:
    return step.replace("~1", "/").replace("~0", "~")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True
