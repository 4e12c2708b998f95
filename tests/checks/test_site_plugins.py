"""Top-level `plugins`: kinds that also check every http site, each a monitor of its own
("<site id>/<kind>"); a site's own `plugins` list, or [] to opt out; config errors."""

import json

import pytest

from monitor.checks import registry
from monitor.config import parse_config
from monitor.core.kind import Kind, Parsed
from monitor.core.model import Monitor
from tests.support.config import config_error


def _from_site(site: Monitor, defaults) -> Parsed | None:
    if not site.spec.url.startswith("https:"):
        return None  # as tls does for http:// sites
    return Parsed(spec=("probe", site.spec.url, defaults.get("maxBodyBytes")),
                  target=site.target)


@pytest.fixture(autouse=True)
def probe_kind():
    kind = registry.register(Kind(name="sitecheck", keys=(), parse=lambda *a: Parsed(None, "x"),
                                  reasons=(), run=lambda m, d: None,  # type: ignore[arg-type]
                                  plugin=_from_site))
    yield kind
    registry._KINDS.pop("sitecheck")


def load(websites, **top) -> list[Monitor]:
    return list(parse_config(json.dumps({"websites": websites, **top})).monitors)


def test_every_site_gets_a_monitor_per_plugin():
    monitors = load([
        {"URL": "https://a.example/", "name": "A", "checkInterval": 5, "timeout": 3,
         "alertWindow": 60, "alertThreshold": 0.5},
        {"URL": "https://b.example/x"},
        {"type": "http", "URL": "http://c.example/"},  # the kind has nothing to check there
    ], plugins=["sitecheck"], maxBodyBytes=1000)
    ids = [m.id for m in monitors]
    assert ids == ["https://a.example/", "https://b.example/x", "http://c.example/",
                   "https://a.example/sitecheck", "https://b.example/x/sitecheck"]
    plugged = monitors[3]
    assert (plugged.kind, plugged.name, plugged.target) == ("sitecheck", "A/sitecheck",
                                                            "https://a.example/")
    assert (plugged.interval, plugged.timeout, plugged.alert_window,
            plugged.alert_threshold) == (5, 3, 60, 0.5)
    # The kind got the site's spec and the top-level defaults.
    assert plugged.spec == ("probe", "https://a.example/", 1000)
    assert monitors[4].name == "https://b.example/x/sitecheck"  # its site's label, then kind


def test_a_site_ending_in_a_slash_makes_ids_with_one_slash():
    # Issue 22, 8: `https://host:8443//tls` was the id of the tls monitor of
    # `https://host:8443/`; its name, of a site with no name, too.
    monitors = load([{"URL": "https://host.example:8443/"},
                     {"URL": "https://host.example:8443/app/", "name": "app/"}],
                    plugins=["sitecheck"])
    assert [(m.id, m.name) for m in monitors[2:]] == [
        ("https://host.example:8443/sitecheck", "https://host.example:8443/sitecheck"),
        ("https://host.example:8443/app/sitecheck", "app/sitecheck")]
    # A site whose URL is the plugged monitor's id is a config error, not a merge.
    assert config_error(load, [{"URL": "https://host.example/"}, {"URL": "https://host.example/sitecheck"}],
                    plugins=["sitecheck"]) == (
        "config.json: websites[0].plugins: makes the monitor 'https://host.example/sitecheck',"
        ' the id of websites[1]: give websites[1] another "id"')
    # Two sites apart only by the final "/" would make one plugged id: an error, not a merge.
    assert config_error(load, [{"URL": "https://host.example/"}, {"URL": "https://host.example"}],
                        plugins=["sitecheck"]) == (
        "config.json: websites[1].plugins: makes the monitor 'https://host.example/sitecheck',"
        ' as websites[0].plugins does: give one of the two sites an "id"')
    monitors = load([{"URL": "https://host.example/"},
                     {"URL": "https://host.example", "id": "bare"}], plugins=["sitecheck"])
    assert [m.id for m in monitors[2:]] == ["https://host.example/sitecheck", "bare/sitecheck"]


def test_a_site_opts_out_or_names_its_own():
    monitors = load([
        {"URL": "https://a.example/", "plugins": []},
        {"URL": "https://b.example/", "plugins": ["sitecheck"]},
        {"URL": "https://c.example/"},
    ])
    assert [m.id for m in monitors] == ["https://a.example/", "https://b.example/",
                                        "https://c.example/", "https://b.example/sitecheck"]
    monitors = load([{"URL": "https://a.example/", "plugins": []}], plugins=["sitecheck"])
    assert [m.id for m in monitors] == ["https://a.example/"]


def test_the_site_secrets_go_with_its_plugins(monkeypatch):
    monkeypatch.setenv("PASSWORD", "hunter2-secret")
    monitors = load([{"URL": "https://user:${PASSWORD}@a.example/"}], plugins=["sitecheck"])
    site, plugged = monitors
    assert plugged.target == "https://user:***@a.example/"
    assert "hunter2-secret" in plugged.secrets
    assert set(site.secrets) <= set(plugged.secrets)


@pytest.mark.parametrize(("websites", "top", "message"), [
    ([{"URL": "https://a.example/"}], {"plugins": "sitecheck"},
     "plugins: must be a list of check kinds"),
    ([{"URL": "https://a.example/"}], {"plugins": [""]},
     "plugins[0]: must be the name of a check kind"),
    ([{"URL": "https://a.example/"}], {"plugins": ["nosuch"]},
     'plugins[0]: unknown check kind "nosuch" (kinds that run on sites: '),
    ([{"URL": "https://a.example/"}], {"plugins": ["http"]},
     'plugins[0]: kind "http" cannot run on a site (kinds that can: '),
    ([{"URL": "https://a.example/"}], {"plugins": ["sitecheck", "sitecheck"]},
     'plugins[1]: "sitecheck" appears more than once'),
    ([{"URL": "https://a.example/", "plugins": [3]}], {},
     "websites[0].plugins[0]: must be the name of a check kind"),
    ([{"URL": "https://a.example/", "plugins": {}}], {},
     "websites[0].plugins: must be a list of check kinds"),
    ([{"URL": "https://a.example/"}], {"canary": {"URL": "https://c.example/", "plugins": []}},
     "canary.plugins: the canary takes no plugins"),
    ([{"URL": "https://a.example/"}, {"id": "https://a.example/sitecheck",
                                      "URL": "https://b.example/"}],
     {"plugins": ["sitecheck"]},
     "websites[0].plugins: makes the monitor 'https://a.example/sitecheck', the id of"
     " websites[1]"),
])
def test_plugin_errors(websites, top, message):
    assert config_error(load, websites, **top).startswith(f"config.json: {message}")


def test_only_sites_take_plugins():
    message = config_error(load, [{"type": "sitecheck", "plugins": []}])
    assert message == "config.json: websites[0].plugins: unknown key"
