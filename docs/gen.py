"""The generated parts of README.md and docs/*.md, kept in step with the code by cog.

Each `<!-- [[[cog cog.out(gen.NAME()) ]]] -->` block in a page calls one function here; the
text up to its `<!-- [[[end]]] -->` is what the function returned when `make docs` last
ran. `python docs/gen.py` rewrites the pages; `python docs/gen.py --check` fails when one
is stale (tests/project/test_docs.py runs it, so `make test` does). Everything is read from
the code itself: the kinds' own key declarations (`Kind.help`, each module's `HELP`), the
click commands, the SQLite schema and its migrations, the layer test's list. A key the
code reads but does not describe is an error here, naming it.

This module imports cogapp only when run: the pages import it for its functions alone.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import re
import sys
import tokenize
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script or from cog: the checkout's own package
    sys.path.insert(0, str(ROOT))

PAGES = ("README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")))
PROGRAM = "monitoringApp.py"
WIDTH = 88  # columns of the generated --help texts

Help = Mapping[str, tuple[str, str]]  # key -> (default as shown, what it means)


class Undocumented(Exception):
    """A key the code reads has no description where it is declared."""


# -- small helpers ------------------------------------------------------------------------

def _cell(text: str) -> str:
    """Text fit for a Markdown table cell (a `|` would end the cell)."""
    return " ".join(text.split()).replace("|", "\\|")


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _code(name: str) -> str:
    return f"`{name}`"


def _paragraph(doc: str | None) -> str:
    """A docstring's first paragraph, on one line."""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split()) if doc else ""


def _first_sentence(doc: str | None) -> str:
    """The first sentence of a docstring's first paragraph."""
    paragraph = _paragraph(doc)
    match = re.match(r"(.+?[.!?])(\s+[A-Z`(]|$)", paragraph)
    return match.group(1) if match else paragraph


def _key_rows(keys: Iterable[str], helps: Iterable[Help], where: str) -> list[list[str]]:
    """One row per key: its name, default and meaning, from the first of `helps` that has
    it. A key none describes raises Undocumented naming `where` it is declared."""
    rows, missing = [], []
    chain = list(helps)
    for key in keys:
        found = next((h[key] for h in chain if key in h), None)
        if found is None:
            missing.append(key)
            continue
        default, meaning = found
        rows.append([_code(key), default, meaning])
    if missing:
        raise Undocumented(f"{where}: no description of {', '.join(missing)}: add it to the"
                           " HELP beside the keys' declaration")
    return rows


def _keys_table(keys: Iterable[str], helps: Iterable[Help], where: str) -> str:
    return _table(["key", "default", "meaning"], _key_rows(keys, helps, where))


def _help_of(module: str) -> Help:
    return getattr(importlib.import_module(module), "HELP", {})


# -- configuration ------------------------------------------------------------------------

def _kinds() -> list:
    """The built-in kinds, by name (not those another package installed here)."""
    from monitor.checks import registry

    return registry.built_in()


def kind_names() -> str:
    """The kinds as a sentence's list: `content`, `cpu`, ..."""
    names = [kind.name for kind in _kinds()]
    return ", ".join(_code(n) for n in names[:-1]) + f" and {_code(names[-1])}"


def top_keys() -> str:
    """Every top-level key: the config's own, the notifications', the alert rules', and the
    kinds' defaults given at the top level."""
    from monitor import config
    from monitor.config import notify, rules, web

    helps = [_help_of("monitor.config"), notify.HELP, rules.HELP, web.HELP]
    rows = _key_rows(config.TOP_KEYS, helps, "monitor/config (TOP_KEYS)")
    of: dict[str, list] = {}  # a kind's key given at the top level -> the kinds it is for
    for kind in _kinds():
        for key in kind.top_keys:
            of.setdefault(key, []).append(kind)
    for key, kinds in of.items():
        row = _key_rows([key], [kinds[0].help], f"the {kinds[0].name} kind (top_keys)")[0]
        names = " and ".join(kind.name for kind in kinds)
        row[2] += f" (every {names} monitor's default)"
        rows.append(row)
    return _table(["key", "default", "meaning"], rows)


def monitor_keys() -> str:
    """The keys every monitor has, whatever its kind."""
    from monitor import config
    from monitor.config import notify, rules

    helps = [notify.MONITOR_HELP, _help_of("monitor.config"), rules.HELP]
    rows = _key_rows(config.COMMON_KEYS, helps, "monitor/config (COMMON_KEYS)")
    for row in rows:
        if row[0].strip("`") in config.TOP_KEYS:
            row[1] = "the top level's"  # given there, it is every monitor's default
    return _table(["key", "default", "meaning"], rows)


def kind_keys() -> str:
    """A section per kind: its own keys (and, for the kind sites are, `plugins`)."""
    from monitor import config

    out = []
    for kind in _kinds():
        keys = list(kind.keys)
        if kind.name == config.SITE_KIND:
            keys.append("plugins")
        out.append(f"### {kind.name}\n")
        if not keys:
            out.append("No keys of its own.\n")
            continue
        out.append(_keys_table(keys, [kind.help], f"the {kind.name} kind (Kind.help)"))
    return "\n".join(out)


def expect_keys() -> str:
    from monitor.checks.http import expect

    return _keys_table(expect.KEYS, [expect.HELP], "monitor/checks/http/expect.py")


def maintenance_keys() -> str:
    from monitor.config import maintenance

    return ("One-off:\n\n" + _keys_table(maintenance.ONE_OFF_KEYS, [maintenance.HELP],
                                          "monitor/config/maintenance.py")
            + "\nRecurring:\n\n" + _keys_table(maintenance.RECURRING_KEYS, [maintenance.HELP],
                                              "monitor/config/maintenance.py"))


def provider_keys() -> str:
    from monitor.config import notify

    return _keys_table(notify.PROVIDER_KEYS, [notify.PROVIDER_HELP], "monitor/config/notify.py")


def rule_keys() -> str:
    from monitor.config import rules

    return _keys_table(rules.KEYS, [rules.HELP], "monitor/config/rules.py")


def notify_keys() -> str:
    """The top-level notification keys."""
    from monitor.config import notify

    return _keys_table(notify.TOP_KEYS, [notify.HELP], "monitor/config/notify.py")


def token_keys() -> str:
    """The keys of each of `apiTokens`."""
    from monitor.config import web

    return _keys_table(web.TOKEN_KEYS, [web.TOKEN_HELP], "monitor/config/web.py")


def status_keys() -> str:
    """The keys of each of `statusPages`, and of each of a page's `groups`."""
    from monitor.config import status

    where = "monitor/config/status.py"
    return (_keys_table(status.PAGE_KEYS, [status.PAGE_HELP], where) + "\nEach of `groups`:\n\n"
            + _keys_table(status.GROUP_KEYS, [status.GROUP_HELP], where))


def api_routes() -> str:
    """Every route of the web server but the pages': method, path, who may call it, what it
    does (from the OpenAPI document the server serves, and each route's `require` scope)."""
    from monitor.web import openapi
    from monitor.web.api import PREFIX, modules

    app = _routes_app()
    pages = app.extensions["monitor.pages"]
    scopes = {}
    views = {}  # path -> the view, for the routes the document does not describe
    for rule in app.url_map.iter_rules():
        if rule.endpoint.partition(".")[0] in pages or rule.endpoint == "favicon":
            continue  # the web pages: page_routes(), in web.md
        view = app.view_functions[rule.endpoint]
        scope = getattr(view, "scope", "none (public)")
        path = re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        views[path] = view
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            scopes[(path, method)] = scope
    rows = []
    for path, item in openapi.document(modules())["paths"].items():
        for method, operation in item.items():
            full = PREFIX + path if path != "/" else PREFIX + "/"
            scope = scopes.get((full, method.upper()), "?")
            rows.append([f"`{method.upper()} {full}`", scope, operation.get("summary", "")])
    for (path, method), scope in sorted(scopes.items()):
        if not path.startswith(PREFIX) and not path.startswith("/static"):
            rows.append([f"`{method} {path}`", scope, _paragraph(views[path].__doc__)])
    return _table(["route", "scope", "what it does"], rows)


def _routes_app() -> typing.Any:
    """The web app, for its routes only: no request is made, and no runtime runs."""
    import types

    from monitor.web import create_app

    return create_app(typing.cast(typing.Any, types.SimpleNamespace(runtime=None)))


def page_routes() -> str:
    """The web pages' routes: method, path, who may see them, what they are (each view's
    docstring)."""
    app = _routes_app()
    pages = app.extensions["monitor.pages"]
    rows = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint.partition(".")[0] not in pages:
            continue
        view = app.view_functions[rule.endpoint]
        path = re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            rows.append([f"`{method} {path}`", getattr(view, "scope", "?"),
                         _paragraph(view.__doc__)])
    return _table(["route", "who", "what it is"], rows)


def template_fields() -> str:
    from monitor.config import notify

    return ", ".join("{" + name + "}" for name in notify.TEMPLATE_FIELDS).join("``")


def notify_events() -> str:
    from monitor.config import notify

    return ", ".join(_code(e) for e in notify.EVENTS)


def facts() -> str:
    """What the program knows, in a few lines, for the README."""
    from monitor.alerts import EVENT_OF
    from monitor.config import notify
    from monitor.store.sqlite.schema import SCHEMA_VERSION

    lines = [
        f"- Kinds of monitor (`type`): {kind_names()}; more from other packages"
        " ([writing a kind](docs/checks.md#writing-a-kind)).",
        f"- Reasons any check can end with, besides its kind's own: {common_reasons()}.",
        f"- {len(EVENT_OF)} types of alert rows: {alert_type_names()}; notified as the"
        f" events {', '.join(_code(e) for e in notify.EVENTS)}.",
        f"- The database: SQLite, schema version {SCHEMA_VERSION}, migrated from any older"
        " one on first open ([storage.md](docs/storage.md)).",
    ]
    return "\n".join(lines) + "\n"


# -- checks -------------------------------------------------------------------------------

def common_reasons() -> str:
    from monitor.core.model import COMMON_REASONS

    return ", ".join(_code(r) for r in COMMON_REASONS)


def kinds_table() -> str:
    """Each kind: what it checks (its module's first sentence), its own reasons, which of
    them the canary weighs, and whether it can run on every site (`plugins`)."""
    from monitor.checks import registry
    from monitor.core.model import COMMON_REASONS

    rows = []
    for kind in _kinds():
        module = importlib.import_module(registry.BUILT_IN[kind.name].module)
        own = [r for r in kind.reasons if r not in COMMON_REASONS]
        canary = (", ".join(_code(r) for r in sorted(kind.network_reasons))
                  if kind.network else "never")
        rows.append([_code(kind.name), _first_sentence(module.__doc__),
                     ", ".join(_code(r) for r in own) or "-", canary,
                     "yes" if kind.plugin is not None else "",
                     f"[keys](configuration.md#{kind.name})"])
    return _table(["type", "what it checks", "its reasons", "canary asked on",
                   "plugin", ""], rows)


# -- alerts -------------------------------------------------------------------------------

def alert_types() -> str:
    """The types of alert rows, with the notification event each counts as and the state
    it leaves its monitor in."""
    from monitor.alerts import EVENT_OF
    from monitor.alerts.routing import STATE_AFTER

    rows = [[_code(t), _code(EVENT_OF[t]), STATE_AFTER.get(t, "")] for t in EVENT_OF]
    return (f"{len(EVENT_OF)} types of rows in `website_alerts` (its `type` column):\n\n"
            + _table(["type", "notification event (`notifyOn`)", "the monitor is then"], rows))


def alert_type_names() -> str:
    from monitor.alerts import EVENT_OF

    return ", ".join(_code(t) for t in EVENT_OF)


# -- storage ------------------------------------------------------------------------------

def schema_version() -> str:
    from monitor.store.sqlite.schema import SCHEMA_VERSION

    return (f"The schema is version {SCHEMA_VERSION} (`PRAGMA user_version`), as a new "
            "database gets it:\n")


def schema_number() -> str:
    from monitor.store.sqlite.schema import SCHEMA_VERSION

    return str(SCHEMA_VERSION)


def schema_sql() -> str:
    from monitor.store.sqlite.schema import SCHEMA

    return "```sql\n" + inspect.cleandoc(SCHEMA) + "\n```\n"


def migrations() -> str:
    from monitor.store.sqlite.migrations import STEPS

    rows = [[f"{number} to {number + 1}", _paragraph(step.__doc__) or step.__name__]
            for number, step in enumerate(STEPS, start=1)]
    return _table(["step", "what it does"], rows)


def writer_commands() -> str:
    from monitor.store import api

    rows = []
    for command in typing.get_args(api.Command):
        fields = ", ".join(getattr(command, "__dataclass_fields__", {}))
        doc = command.__doc__ or ""
        # A dataclass without a docstring gets its signature as one: no description.
        what = "" if doc.startswith(f"{command.__name__}(") else _first_sentence(doc)
        rows.append([_code(command.__name__), fields, what])
    return _table(["command", "fields", "what it says"], rows)


def reader_methods() -> str:
    from monitor.store.api import Reader

    rows = []
    for name, function in inspect.getmembers(Reader, inspect.isfunction):
        if name.startswith("_") or not function.__doc__:
            continue
        rows.append([_code(name), _first_sentence(function.__doc__)])
    return _table(["method", "what it returns"], rows)


# -- architecture -------------------------------------------------------------------------

def _layers() -> list[tuple[list[str], str]]:
    """tests/project/test_layers.py's LAYERS, each with its line's comment."""
    path = ROOT / "tests" / "project" / "test_layers.py"
    source = path.read_text()
    comments = {tok.start[0]: tok.string.lstrip("# ").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT}
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "LAYERS"):
            assert isinstance(node.value, ast.List)
            return [(ast.literal_eval(item), comments.get(item.lineno, ""))
                     for item in node.value.elts]
    raise LookupError(f"{path}: no LAYERS")


def layers() -> str:
    rows = [[str(number), ", ".join(_code(p) for p in packages), what or "-"]
            for number, (packages, what) in enumerate(_layers())]
    return _table(["layer", "packages", "what"], rows)


def modules() -> str:
    """Every module, under its layer, with its docstring's first sentence."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "monitor").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = _first_sentence(ast.get_docstring(ast.parse(path.read_text())))

    def package(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if len(parts) > 1 else parts[0]

    out = []
    for packages, what in _layers():
        mine = [m for m in found if package(m) in packages]
        if not mine:
            continue
        out.append(f"**{', '.join(packages)}**" + (f": {what}\n" if what else "\n"))
        out.append(_table(["module", "what it is"],
                          [[_code(m), found[m] or "-"] for m in mine]))
    return "\n".join(out)


# -- commands -----------------------------------------------------------------------------

def _walk(command, path: tuple[str, ...] = ()):  # noqa: ANN001, ANN202 - click's types
    """Every command under the group, depth first, with its path of names."""
    import click

    yield path, command
    if isinstance(command, click.Group):
        for name in command.list_commands(click.Context(command)):
            sub = command.get_command(click.Context(command), name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, (*path, name))


def _help_text(path: tuple[str, ...]) -> str:
    from click.testing import CliRunner

    from monitor.cli import main

    result = CliRunner().invoke(main, [*path, "--help"], prog_name=PROGRAM,
                                terminal_width=WIDTH, env={"COLUMNS": str(WIDTH)})
    if result.exit_code != 0:
        raise RuntimeError(f"{' '.join(path)} --help: exit {result.exit_code}: "
                           f"{result.output}")
    return result.output.rstrip() + "\n"


def commands() -> str:
    """A table of every command, then each one's --help."""
    from monitor.cli import main

    walked = list(_walk(main))
    rows = []
    for path, command in walked[1:]:
        name = " ".join(path)
        anchor = re.sub(r"[^a-z0-9 -]", "", name.lower()).replace(" ", "-")
        rows.append([f"[`{name}`](#{anchor})", command.get_short_help_str(limit=100)])
    out = [_table(["command", "what it does"], rows)]
    out.append(f"### {PROGRAM}\n\n```\n{_help_text(())}```\n")
    for path, _command in walked[1:]:
        out.append(f"### {' '.join(path)}\n\n```\n{_help_text(path)}```\n")
    return "\n".join(out)


def command_help(*path: str) -> str:
    """One command's --help, as a code block."""
    return f"```\n{_help_text(path)}```\n"


def mode_flags() -> str:
    """The mode flags of the original design, each with the command that does the same."""
    from monitor.cli import MODES, main

    rows = [[_code(flag), _code(command), main.commands[command].get_short_help_str(200)]
            for command, flag in MODES.items()]
    return _table(["flag", "command", "what it does"], rows)


# -- running cog --------------------------------------------------------------------------

def cog_args(check: bool) -> list[str]:
    args = ["cog", "-I", str(ROOT / "docs"), "-p", "import cog, gen"]
    if check:
        args += ["--check", "--diff", "--check-fail-msg",
                 "the generated docs are stale: run `make docs`"]
    else:
        args += ["-r"]
    return args + [str(ROOT / page) for page in PAGES]


def run(check: bool = False) -> int:
    from cogapp import Cog  # type: ignore[import-untyped]

    return Cog().main(cog_args(check))


if __name__ == "__main__":
    sys.exit(run(check="--check" in sys.argv[1:]))
