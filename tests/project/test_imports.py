"""What importing costs: the store and the config import no check kind, a kind's module
(and its library: pycurl, dnspython, psutil, selectolax) is imported when a config first
uses it, and the registry's table of built-in kinds says what is asked of a kind before
it is loaded. Each case runs in a fresh interpreter (this one has every kind imported)."""

import importlib
import json
import subprocess
import sys

import pytest

from monitor.checks import registry
from tests.support.app import run_app

HEAVY = ("pycurl", "dns", "psutil", "selectolax")


def loaded_after(code: str, *args: str) -> set[str]:
    """The heavy libraries imported by a fresh interpreter that ran `code`."""
    probe = (f"{code}\nimport sys\nprint('loaded:', *(m for m in {HEAVY!r} if m in"
             " sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.splitlines()[-1].split()[1:])


def parsed(*entries: dict, **top: object) -> str:
    """Code that parses a config of `entries`."""
    text = json.dumps({"monitors": list(entries), **top})
    return f"from monitor.config import parse_config\nparse_config({text!r})"


@pytest.mark.parametrize("modules", [
    ["monitor.store.api", "monitor.store.sqlite.writer", "monitor.store.sqlite.queries"],
    ["monitor.config"],
    ["monitor.checks.registry", "monitor.core.kind", "monitor.core.fields"],
])
def test_importing_the_store_or_the_config_imports_no_kind(modules):
    assert loaded_after("\n".join(f"import {m}" for m in modules)) == set()


@pytest.mark.parametrize(("entry", "libraries"), [
    ({"type": "tcp", "host": "localhost", "port": 22}, set()),
    ({"URL": "https://example.com/"}, {"pycurl"}),
    ({"type": "dns", "host": "example.com"}, {"dns"}),
    ({"type": "cpu"}, {"psutil"}),
    ({"type": "content", "URL": "https://example.com/"}, {"pycurl", "selectolax"}),
    ({"type": "tls", "host": "example.com"}, set()),
])
def test_a_config_imports_the_kinds_it_uses_and_no_other(entry, libraries):
    assert loaded_after(parsed(entry)) == libraries


def test_a_site_imports_the_kinds_its_plugins_name():
    site = {"URL": "https://example.com/", "plugins": ["dns"]}
    assert loaded_after(parsed(site)) == {"pycurl", "dns"}


def test_a_kinds_top_level_key_is_checked_even_when_no_monitor_uses_the_kind():
    code = parsed({"type": "tcp", "host": "localhost", "port": 22}, maxBodyBytes=-1)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert "maxBodyBytes: must be a whole number greater than 0" in done.stderr


def _load(config: object) -> str:
    """Code (indented, in a try) that loads `config`, its error left unsaid."""
    return ("    from monitor.config import load_config\n"
            f"    load_config({str(config)!r})\nexcept Exception:\n    pass")


def test_an_unknown_kind_is_told_with_every_kind_none_imported(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"monitors": [{"type": "ping"}]}))
    done = run_app(["validate", "-c", str(config)], None)
    assert done.stderr.strip() == (
        f"Error: {config}: monitors[0].type: must be one of: content, cpu, disk, dns, http,"
        " load, log, memory, metric, process, push, tcp, tls")
    assert loaded_after(f"try:\n{_load(config)}") == set()


def test_a_kind_that_cannot_run_on_sites_is_told_with_those_that_can(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"monitors": [{"type": "tcp", "host": "h", "port": 1}],
                                  "plugins": ["ping"]}))
    done = run_app(["validate", "-c", str(config)], None)
    assert done.stderr.strip() == (f'Error: {config}: plugins[0]: unknown check kind "ping"'
                                   " (kinds that run on sites: content, dns, tls)")
    assert loaded_after(f"try:\n{_load(config)}") == set()


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["monitor", "--help"]])
def test_help_imports_no_kind(args):
    code = (f"from monitor.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n"
            "    pass")
    assert loaded_after(code) == set()


@pytest.mark.parametrize("name", sorted(registry.BUILT_IN))
def test_the_table_says_of_each_built_in_kind_what_its_module_does(name):
    entry = registry.BUILT_IN[name]
    kind = registry.get(name)
    assert kind.name == name
    assert kind.top_keys == entry.top_keys
    assert (kind.plugin is not None) == entry.on_sites
    assert (kind.watch is not None) == entry.watches
    assert importlib.import_module(entry.module).KIND is kind


def test_a_kind_loads_once_whichever_thread_asks_first():
    code = ("import threading\nfrom monitor.checks import registry\nfound = []\n"
            "threads = [threading.Thread(target=lambda: found.append(registry.get('tcp')))"
            " for _ in range(8)]\nfor t in threads: t.start()\nfor t in threads: t.join()\n"
            "assert len({id(k) for k in found}) == 1 and len(found) == 8, found")
    assert loaded_after(code) == set()
