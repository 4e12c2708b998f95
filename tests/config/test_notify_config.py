"""The notification keys of config.json: `notify` providers (apprise URLs, secrets), `notifyOn`,
a monitor's `notify`, `notifyRetryFor`, `heartbeatUrl` and `heartbeatInterval`; every
message in full, and no secret in any of them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.checks import registry
from monitor.config import notify as notify_mod
from monitor.config import parse_config
from monitor.config.notify import EVENTS, TEMPLATE_FIELDS, Provider
from monitor.core import secrets
from monitor.core.errors import ConfigError
from monitor.core.kind import Kind, Parsed
from monitor.core.model import DEFAULT_NOTIFY_ON, Monitor
from tests.support.config import DURATION, URL, doc, error_of, parse

HOOK = "json://hooks.example/notify"
FIELDS = ", ".join(TEMPLATE_FIELDS)
EVENT_LIST = "alert, recovery, warning, reminder, flapping"


# --------------------------------------------------------------------------- defaults


def test_no_notification_keys_fill_the_defaults() -> None:
    config = parse()
    assert (config.providers, config.notify_retry_for, config.heartbeat_url,
            config.heartbeat_interval, config.heartbeat_shown) == ((), 3600.0, None, 60.0, None)
    site = config.monitors[0]
    assert (site.notify, site.notify_on) == (None, DEFAULT_NOTIFY_ON)
    assert set(DEFAULT_NOTIFY_ON) == {"alert", "recovery", "reminder", "flapping"}  # no warning
    assert EVENTS == ("alert", "recovery", "warning", "reminder", "flapping")
    # The defaults are the dataclasses' own: a Monitor made in code notifies the same way.
    assert Monitor(id="x", kind="http", target="x").notify_on is DEFAULT_NOTIFY_ON


def test_providers_in_order_with_their_templates() -> None:
    config = parse(notify=[
        {"name": "ops", "url": HOOK, "title": "{EVENT}: {name}",
         "body": "{message}\nat {time} ({reason}: {detail})"},
        {"name": "mail", "url": "mailto://user:pass-word@mail.example.com"},
    ])
    ops, mail = config.providers
    assert (ops.name, ops.url, ops.shown, ops.title, ops.body) == (
        "ops", HOOK, "json://***", "{EVENT}: {name}", "{message}\nat {time} ({reason}: {detail})")
    assert (mail.name, mail.shown, mail.title, mail.body) == (
        "mail", "mailto://***", None, None)
    assert [m.notify for m in config.monitors] == [None]  # every provider


@pytest.mark.parametrize("url", [
    "mailto://user:pass@mail.example.com",
    "pover://ukey1234@apptoken5678",
    "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
    "tgram://123456789:abcdefg_hijklmnop/12315544",
    "ntfy://my-topic",
    "ntfys://ntfy.example.com/my-topic",
    "json://localhost:8080/path?token=abc",
    "jsons://user:pw@hooks.example/x",
    "form://127.0.0.1:9000/hook",
])
def test_apprise_urls_of_the_common_services_are_accepted(url: str) -> None:
    (provider,) = parse(notify=[{"name": "p", "url": url}]).providers
    assert provider.url == url
    assert provider.shown == url.partition("://")[0] + "://***"


def test_a_provider_url_takes_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "123456789:abcdefg_hijklmnop")
    (provider,) = parse(notify=[{"name": "tg", "url": "tgram://${BOT_TOKEN}/12315544"}]
                        ).providers
    assert provider.url == "tgram://123456789:abcdefg_hijklmnop/12315544"
    assert "abcdefg_hijklmnop" in provider.secrets
    assert "123456789:abcdefg_hijklmnop" in provider.secrets


def test_notify_on_top_level_is_every_monitors_default_and_a_monitor_its_own() -> None:
    config = parse({"URL": URL}, {"URL": "https://b.example/", "notifyOn": ["warning"]},
                   {"URL": "https://c.example/", "notifyOn": []},
                   notifyOn=["alert", "warning"])
    assert [m.notify_on for m in config.monitors] == [
        frozenset({"alert", "warning"}), frozenset({"warning"}), frozenset()]


def test_a_monitor_names_its_providers_or_none() -> None:
    providers = [{"name": "ops", "url": HOOK}, {"name": "pager", "url": "ntfy://pager-topic"}]
    config = parse({"URL": URL, "notify": ["pager", "ops"]},
                   {"URL": "https://b.example/", "notify": []},
                   {"URL": "https://c.example/"}, notify=providers)
    assert [m.notify for m in config.monitors] == [("pager", "ops"), (), None]
    # [] needs no provider at all.
    assert parse({"URL": URL, "notify": []}).monitors[0].notify == ()


def test_every_kind_takes_the_keys() -> None:
    config = parse({"type": "tcp", "host": "127.0.0.1", "port": 22, "notify": [],
                    "notifyOn": ["warning"]})
    assert (config.monitors[0].notify, config.monitors[0].notify_on) == (
        (), frozenset({"warning"}))


def test_retry_and_heartbeat_values() -> None:
    config = parse(notifyRetryFor=604800, heartbeatUrl="https://hc-ping.com/0f7c-uuid",
                   heartbeatInterval=1)
    assert (config.notify_retry_for, config.heartbeat_url, config.heartbeat_interval) == (
        604800.0, "https://hc-ping.com/0f7c-uuid", 1.0)
    assert config.heartbeat_shown == "https://hc-ping.com/***"
    assert parse(notifyRetryFor=0.5, heartbeatInterval=86400).notify_retry_for == 0.5


@pytest.mark.parametrize(("url", "shown"), [
    ("https://hc-ping.com/0f7c-uuid", "https://hc-ping.com/***"),
    ("http://127.0.0.1:8000/ping?key=abc", "http://127.0.0.1:8000/***"),
    ("https://user:pw@beat.example", "https://beat.example/***"),
    ("https://beat.example", "https://beat.example/"),
    ("HTTPS://beat.example/", "https://beat.example/"),
])
def test_the_heartbeat_url_is_shown_by_its_host(url: str, shown: str) -> None:
    assert parse(heartbeatUrl=url).heartbeat_shown == shown


def test_heartbeat_url_takes_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HC_UUID", "0f7c1d2e-uuid-secret")
    config = parse(heartbeatUrl="https://hc-ping.com/${HC_UUID}")
    assert config.heartbeat_url == "https://hc-ping.com/0f7c1d2e-uuid-secret"
    assert "0f7c1d2e-uuid-secret" not in repr(config)


@pytest.mark.parametrize("template", [
    "plain text", "{{literal}} {name}", "{name:>20}", "{availability!r}", "{EVENT} {event}",
    " ".join("{" + f + "}" for f in TEMPLATE_FIELDS), "{name:{state}}",
])
def test_templates_with_the_known_fields_are_accepted(template: str) -> None:
    (provider,) = parse(notify=[{"name": "p", "url": HOOK, "title": template,
                                 "body": template}]).providers
    assert (provider.title, provider.body) == (template, template)


def test_render_fills_a_template_with_text() -> None:
    values = {"name": "shop", "EVENT": "ALERT", "availability": "75.0%"}
    assert notify_mod.render("{EVENT}: {name} at {availability} {{x}} [{detail}]",
                             values) == "ALERT: shop at 75.0% {x} []"


def test_a_deferred_field_keeps_its_conversion_and_spec_until_its_value_is_known() -> None:
    from monitor.store.api import KEY_FIELD

    assert notify_mod.DEFERRED % "key" == KEY_FIELD  # what routing gives for {key}
    values = {"name": "shop", "key": KEY_FIELD}
    text = notify_mod.render("[{key:.3}] {name} {key!r} {key:>{name}} {key} {{key}}", values)
    assert "\x00" in text and "shop" in text
    assert notify_mod.fill(text, {"key": "12:ops"}) == "[12:] shop '12:ops' 12:ops 12:ops {key}"
    assert notify_mod.fill("no markers", {"key": "x"}) == "no markers"


def test_a_spec_made_of_fields_that_does_not_apply_gives_the_value_as_it_is() -> None:
    # "{name:{state}}" is a valid template, but "down" is no format spec: no exception at
    # alert time, the name as it is.
    assert notify_mod.render("{name:{state}}!", {"name": "shop", "state": "down"}) == "shop!"
    assert notify_mod.render("{name:{state}}!", {"name": "shop", "state": ">6"}) == "  shop!"


# ------------------------------------------------------------------------ inheritance


def _from_site(site: Monitor, defaults: Any) -> Parsed | None:
    return Parsed(spec=("probe", site.spec.url), target=site.target)


@pytest.fixture
def site_kind():
    kind = registry.register(Kind(name="sitecheck", keys=(),
                                  parse=lambda *a: Parsed(None, "x"), reasons=(),
                                  run=lambda m, d: None,  # type: ignore[arg-type,return-value]
                                  plugin=_from_site))
    yield kind
    registry._KINDS.pop("sitecheck")


def test_plugin_monitors_inherit_their_sites_notify_settings(site_kind: Kind) -> None:
    config = parse(
        {"URL": URL, "notify": ["ops"], "notifyOn": ["warning", "alert"]},
        {"URL": "https://b.example/"},
        plugins=["sitecheck"], notifyOn=["recovery"],
        notify=[{"name": "ops", "url": HOOK}, {"name": "pager", "url": "ntfy://pager"}])
    by_id = {m.id: m for m in config.monitors}
    a, b = by_id["https://a.example/sitecheck"], by_id["https://b.example/sitecheck"]
    assert (a.notify, a.notify_on) == (("ops",), frozenset({"warning", "alert"}))
    assert (b.notify, b.notify_on) == (None, frozenset({"recovery"}))


def test_the_canary_sends_nothing_and_takes_neither_key() -> None:
    config = parse(canary="https://canary.example/", notifyOn=["alert"])
    assert config.canary is not None
    assert (config.canary.notify, config.canary.notify_on) == ((), frozenset())
    for key, value in (("notify", []), ("notifyOn", ["alert"])):
        assert error_of(canary={"URL": "https://canary.example/", key: value}) == (
            f"canary.{key}: the canary sends no notifications")


# ----------------------------------------------------------------------------- errors

P = {"name": "ops", "url": HOOK}
HTTPS_HINT = ("https:// is a web address, not an apprise service: for a webhook write"
              " jsons:// (JSON over https; json:// over http) or forms:// (a form post)"
              " before the same host and path")
APPRISE_LIST = "apprise's services and their schemes: https://github.com/caronc/apprise/wiki"
NO_SCHEME = ("does not start with a service's scheme (scheme://...: json://host/path,"
             " mailto://user:password@host...)")


@pytest.mark.parametrize(("sites", "top", "message"), [
    # notify: the providers
    ([], {"notify": {"ops": HOOK}},
     "notify: must be a list of providers, each an object with a name and a url"),
    ([], {"notify": [HOOK]}, "notify[0]: must be an object with a name and a url"),
    ([], {"notify": [P, {"url": HOOK}]}, "notify[1].name: is required"),
    ([], {"notify": [{"name": "ops"}]}, "notify[0].url: is required"),
    ([], {"notify": [{**P, "URL": HOOK}]}, 'notify[0].URL: unknown key (did you mean "url"?)'),
    ([], {"notify": [{**P, "tag": "x"}]}, "notify[0].tag: unknown key"),
    ([], {"notify": [{"name": "", "url": HOOK}]}, "notify[0].name: must be a non-empty string"),
    ([], {"notify": [{"name": 3, "url": HOOK}]}, "notify[0].name: must be a non-empty string"),
    ([], {"notify": [{"name": "a\nb", "url": HOOK}]},
     "notify[0].name: must not contain control characters or unpaired surrogates"),
    ([], {"notify": [P, {"name": "x", "url": HOOK}, {"name": "ops", "url": HOOK}]},
     "notify[2].name: duplicate of notify[0].name"),
    ([], {"notify": [{"name": "ops", "url": ""}]}, "notify[0].url: must be a non-empty string"),
    ([], {"notify": [{"name": "ops", "url": ["json://x"]}]},
     "notify[0].url: must be a non-empty string"),
    ([], {"notify": [{"name": "ops", "url": "json://a b/"}]},
     "notify[0].url: must not contain spaces"),
    ([], {"notify": [{"name": "ops", "url": "json://a\u200bb/"}]},
     "notify[0].url: must not contain control or invisible characters"),
    ([], {"notify": [{"name": "ops", "url": "json://${NOT_SET_ANYWHERE}/"}]},
     "notify[0].url: environment variable NOT_SET_ANYWHERE is not set"),
    ([], {"notify": [{"name": "ops", "url": "https://hooks.example/x"}]},
     f"notify[0].url: {HTTPS_HINT}"),
    ([], {"notify": [{"name": "ops", "url": "nosuchscheme://token"}]},
     f"notify[0].url: unknown scheme nosuchscheme:// ({APPRISE_LIST})"),
    ([], {"notify": [{"name": "ops", "url": "jsn://x"}]},
     "notify[0].url: unknown scheme jsn:// (closest: json://, jsons://, sns://)"),
    ([], {"notify": [{"name": "ops", "url": "Pushover://u@t"}]},
     "notify[0].url: unknown scheme pushover:// (closest: pover://, wxpusher://,"
     " pushdeer://)"),
    ([], {"notify": [{"name": "ops", "url": "slack://abc"}]},
     "notify[0].url: slack:// (Slack) is missing {token_b}, {token_c}: the form is"
     " slack://{token_a}/{token_b}/{token_c}"),
    ([], {"notify": [{"name": "ops", "url": "slack://ab-c/def/ghi"}]},
     "notify[0].url: slack:// (Slack): {token_a} is not in the form the service takes:"
     " slack://{token_a}/{token_b}/{token_c}"),
    ([], {"notify": [{"name": "ops", "url": "tgram://abc"}]},
     "notify[0].url: tgram:// (Telegram): its parts are not in the form the service"
     " takes: tgram://{bot_token}"),
    ([], {"notify": [{"name": "ops", "url": "slack://"}]},
     "notify[0].url: slack:// (Slack) is missing {token_a}, {token_b}, {token_c}: the form"
     " is slack://{token_a}/{token_b}/{token_c}"),
    ([], {"notify": [{"name": "ops", "url": "json://user:pw@"}]},
     "notify[0].url: json:// (JSON): its parts are not in the form the service takes:"
     " json://{host}"),
    ([], {"notify": [{"name": "ops", "url": "mailto://"}]},
     "notify[0].url: mailto:// (E-Mail) is missing {host}: the form is mailto://{host}"),
    ([], {"notify": [{"name": "ops", "url": "hooks.example/x"}]},
     f"notify[0].url: {NO_SCHEME}"),
    ([], {"notify": [{"name": "ops", "url": "://x"}]}, f"notify[0].url: {NO_SCHEME}"),
    ([], {"notify": [{"name": "ops", "url": "pover://onlyauserkey"}]},
     "notify[0].url: pover:// (Pushover) is missing {user_key}: the form is"
     " pover://{user_key}@{token}"),
    ([], {"notify": [{"name": "ops", "url": "not a url at all"}]},
     "notify[0].url: must not contain spaces"),
    ([], {"notify": [{"name": "ops", "url": "json://"}]},
     "notify[0].url: json:// (JSON) is missing {host}: the form is json://{host}"),
    # templates
    ([], {"notify": [{**P, "title": "{foo}"}]},
     f"notify[0].title: unknown field {{foo}} (fields: {FIELDS})"),
    ([], {"notify": [{**P, "body": "{name} {}"}]},
     f"notify[0].body: unknown field {{}} (fields: {FIELDS})"),
    ([], {"notify": [{**P, "body": "{0}"}]},
     f"notify[0].body: unknown field {{0}} (fields: {FIELDS})"),
    ([], {"notify": [{**P, "body": "{name.upper}"}]},
     f"notify[0].body: unknown field {{name.upper}} (fields: {FIELDS})"),
    ([], {"notify": [{**P, "body": "{name[0]}"}]},
     f"notify[0].body: unknown field {{name[0]}} (fields: {FIELDS})"),
    ([], {"notify": [{**P, "body": "{Name}"}]},
     f"notify[0].body: unknown field {{Name}} (fields: {FIELDS})"),
    ([], {"notify": [{**P, "body": "{name:{width}}"}]},
     f"notify[0].body: unknown field {{width}} (fields: {FIELDS})"),
    ([], {"notify": [{**P, "title": "{name"}]},
     "notify[0].title: is not a valid template: expected '}' before end of string"
     " (write {{ and }} for a literal brace)"),
    ([], {"notify": [{**P, "title": "a } b"}]},
     "notify[0].title: is not a valid template: Single '}' encountered in format string"
     " (write {{ and }} for a literal brace)"),
    ([], {"notify": [{**P, "title": "{availability:.1f}"}]},
     "notify[0].title: is not a valid template: Unknown format code 'f' for object of type"
     " 'str'"),
    ([], {"notify": [{**P, "title": "{name!x}"}]},
     "notify[0].title: is not a valid template: Unknown conversion specifier x"),
    ([], {"notify": [{**P, "title": ""}]}, "notify[0].title: must be a non-empty string"),
    ([], {"notify": [{**P, "body": 5}]}, "notify[0].body: must be a non-empty string"),
    ([], {"notify": [{**P, "title": "a\nb"}]},
     "notify[0].title: must not contain line breaks or control characters"),
    ([], {"notify": [{**P, "body": "a\u0007b"}]},
     "notify[0].body: must not contain control characters other than line breaks and tabs"),
    # notifyOn
    ([], {"notifyOn": "alert"}, f"notifyOn: must be a list of events ({EVENT_LIST})"),
    ([], {"notifyOn": ["alert", "down"]},
     f'notifyOn[1]: unknown event "down" (events: {EVENT_LIST})'),
    ([], {"notifyOn": ["Alert"]}, f'notifyOn[0]: unknown event "Alert" (events: {EVENT_LIST})'),
    ([], {"notifyOn": [1]}, f"notifyOn[0]: must be one of: {EVENT_LIST}"),
    ([], {"notifyOn": ["alert", "alert"]}, 'notifyOn[1]: "alert" appears more than once'),
    ([{"URL": URL, "notifyOn": ["a\nb"]}], {},
     f'websites[0].notifyOn[0]: unknown event "a\\nb" (events: {EVENT_LIST})'),
    ([{"URL": URL, "notifyOn": {}}], {},
     f"websites[0].notifyOn: must be a list of events ({EVENT_LIST})"),
    # a monitor's notify
    ([{"URL": URL, "notify": "ops"}], {"notify": [P]},
     "websites[0].notify: must be a list of provider names"),
    ([{"URL": URL, "notify": [None]}], {"notify": [P]},
     "websites[0].notify[0]: must be the name of a provider"),
    ([{"URL": URL, "notify": ["ops", "x"]}], {"notify": [P, {"name": "pager", "url": HOOK}]},
     'websites[0].notify[1]: unknown provider "x" (providers: ops, pager)'),
    ([{"URL": URL, "notify": ["ops"]}], {},
     'websites[0].notify[0]: unknown provider "ops" (no provider is configured in notify)'),
    ([{"URL": URL, "notify": ["ops", "ops"]}], {"notify": [P]},
     'websites[0].notify[1]: "ops" appears more than once'),
    # notifyRetryFor
    ([], {"notifyRetryFor": 0}, f"notifyRetryFor: {DURATION}"),
    ([], {"notifyRetryFor": "1 hour"}, f"notifyRetryFor: {DURATION}"),
    ([], {"notifyRetryFor": 604801}, "notifyRetryFor: must be at most 7d"),
    # heartbeat
    ([], {"heartbeatUrl": ""}, "heartbeatUrl: must be a non-empty string"),
    ([], {"heartbeatUrl": 5}, "heartbeatUrl: must be a non-empty string"),
    ([], {"heartbeatUrl": "ftp://beat.example/x"},
     "heartbeatUrl: must be an http:// or https:// URL with a host"),
    ([], {"heartbeatUrl": "https:///x"},
     "heartbeatUrl: must be an http:// or https:// URL with a host"),
    ([], {"heartbeatUrl": "https://beat.example:99999/secret-uuid"},
     "heartbeatUrl: is not a valid URL"),
    ([], {"heartbeatUrl": "https://[::1/secret-uuid"}, "heartbeatUrl: is not a valid URL"),
    ([], {"heartbeatUrl": "https://beat.example/a b"}, "heartbeatUrl: must not contain spaces"),
    ([], {"heartbeatInterval": 0}, f"heartbeatInterval: {DURATION}"),
    ([], {"heartbeatInterval": 0.5}, "heartbeatInterval: must be at least 1s"),
    ([], {"heartbeatInterval": 86401}, "heartbeatInterval: must be at most 1d"),
    ([], {"heartbeatIntervall": 5}, 'heartbeatIntervall: unknown key (did you mean'
                                    ' "heartbeatInterval"?)'),
])
def test_errors(sites: list[dict[str, Any]], top: dict[str, Any], message: str) -> None:
    assert error_of(*sites, **top) == message


# ---------------------------------------------------------------------------- secrets

PASSWORD = "hunter2-pw-0001"
TOKEN = "tok-9f8e7d6c5b4a"
USER_KEY = "ukey-a1b2c3d4e5"


def _secret_urls() -> list[str]:
    return [f"json://user:{PASSWORD}@hooks.example/{TOKEN}?token={TOKEN}",
            f"pover://{USER_KEY}@{TOKEN}",
            f"tgram://123456789:{TOKEN}/12315544"]


@pytest.mark.parametrize("url", _secret_urls())
def test_a_provider_url_and_its_parts_are_secrets(url: str) -> None:
    (provider,) = parse(notify=[{"name": "p", "url": url}]).providers
    assert url in provider.secrets
    assert TOKEN in provider.secrets
    for text in (repr(provider), str(provider), provider.shown):
        assert TOKEN not in text and PASSWORD not in text and USER_KEY not in text
    # An unexpected error that quotes the URL or a part of it, decoded or not, is masked.
    for part in (url, TOKEN, quote(url, safe="")):
        assert secrets.redact_known(f"boom: {part}") == "boom: ***"


def test_secrets_in_the_parts_are_masked_whatever_the_encoding() -> None:
    (provider,) = parse(notify=[{"name": "p", "url": f"json://hooks.example/a%2Fb-{TOKEN}"}]
                        ).providers
    assert f"a/b-{TOKEN}" in provider.secrets  # as apprise decodes it, and may quote it


@pytest.mark.parametrize("inline", [True, False])
@pytest.mark.parametrize(("notify", "key", "message"), [
    (lambda u: [{"name": "p", "url": u + " x"}], "notify[0].url", "must not contain spaces"),
    (lambda u: [{"name": "p", "url": u.replace("json", "nosuch")}], "notify[0].url",
     f"unknown scheme nosuch:// ({APPRISE_LIST})"),
    (lambda u: [{"name": "p", "url": u.replace("json", "https")}], "notify[0].url",
     HTTPS_HINT),
    (lambda u: [{"name": "p", "url": u, "title": "{" + TOKEN + "}"}], "notify[0].title",
     None),
    (lambda u: [{"name": "p", "url": u}, {"name": "p", "url": u}], "notify[1].name",
     "duplicate of notify[0].name"),
])
def test_no_provider_error_shows_a_secret(monkeypatch: pytest.MonkeyPatch, inline: bool,
                                           notify: Any, key: str, message: str | None) -> None:
    monkeypatch.setenv("HOOK_PASSWORD", PASSWORD)
    url = (f"json://user:{PASSWORD}@hooks.example/{TOKEN}" if inline
           else "json://user:${HOOK_PASSWORD}@hooks.example/x")
    error = error_of(notify=notify(url))
    assert PASSWORD not in error and "hooks.example" not in error
    assert error.startswith(f"{key}: ")
    if message is not None:
        assert error == f"{key}: {message}"


def test_no_heartbeat_error_shows_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HC_UUID", "0f7c1d2e-uuid-secret")
    for url in ("https://hc-ping.com:99999/${HC_UUID}", "ftp://hc-ping.com/${HC_UUID}",
                "https://hc-ping.com:99999/0f7c1d2e-uuid-secret",
                "https://[hc-ping.com/0f7c1d2e-uuid-secret"):
        error = error_of(heartbeatUrl=url)
        assert "0f7c1d2e-uuid-secret" not in error and "hc-ping" not in error, error


def test_a_later_error_masks_values_from_the_environment(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    # As for sites: a value from ${VAR} is masked wherever a message could quote it.
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    error = error_of({"URL": URL, "notify": [TOKEN]},
                     notify=[{"name": "p", "url": "json://hooks.example/${HOOK_TOKEN}"}])
    assert error == 'websites[0].notify[0]: unknown provider "***" (providers: p)'


@pytest.mark.parametrize("url", [
    f"slack://{TOKEN}", f"slack://{TOKEN}/x-{PASSWORD}/y", f"pover://{TOKEN}",
    f"pover://{USER_KEY}@", f"tgram://{TOKEN}", f"tgram://bot{TOKEN}/1",
    f"discord://{TOKEN}", f"json://{USER_KEY}:{PASSWORD}@", f"mailto://{USER_KEY}@",
    f"twilio://{USER_KEY}:{PASSWORD}@", f"gotify://{TOKEN}",
    f"jsn://{USER_KEY}:{PASSWORD}@hooks.example/{TOKEN}",
    f"https://{USER_KEY}:{PASSWORD}@hooks.example/{TOKEN}",
])
def test_a_url_error_names_the_scheme_and_fields_never_a_value(url: str) -> None:
    error = error_of(notify=[{"name": "p", "url": url}])
    assert error.startswith("notify[0].url: "), error
    for value in (TOKEN, PASSWORD, USER_KEY, "hooks.example"):
        assert value not in error, error
    scheme = url.partition("://")[0]
    assert f"{scheme}://" in error


def test_a_service_that_needs_a_package_says_which() -> None:
    import apprise

    details = apprise.Apprise().details(show_requirements=True, show_disabled=True)
    missing = [s for s in details["schemas"] if not s["enabled"]
               and s["requirements"]["packages_required"] and s["protocols"]]
    if not missing:
        pytest.skip("every apprise service is available here")
    service = missing[0]
    scheme = service["protocols"][0]
    error = error_of(notify=[{"name": "p", "url": f"{scheme}://host/{TOKEN}"}])
    assert error == (f"notify[0].url: {scheme}:// ({service['service_name']}) needs the"
                     f" Python package {', '.join(service['requirements']['packages_required'])}"
                     ", not installed here")


def test_heartbeat_url_secrets_are_remembered_not_its_host() -> None:
    url = f"https://beat:{PASSWORD}@hc-ping.com/{TOKEN}?key={USER_KEY}"
    config = parse(heartbeatUrl=url)
    assert config.heartbeat_shown == "https://hc-ping.com/***"
    for part in (url, PASSWORD, TOKEN, USER_KEY):
        assert secrets.redact_known(f"x {part} y") == "x *** y"
    assert "hc-ping.com" not in notify_mod.heartbeat_secrets(url)
    assert PASSWORD not in repr(config) and TOKEN not in repr(config)


def test_apprise_logs_nothing_while_validating(caplog: pytest.LogCaptureFixture) -> None:
    # apprise logs a URL it cannot parse in full; while config validates one it says nothing.
    with caplog.at_level("DEBUG", logger="apprise"):
        error_of(notify=[{"name": "p", "url": f"nosuch://{TOKEN}"}])
        parse(notify=[{"name": "p", "url": f"json://hooks.example/{TOKEN}"}])
    assert not [r for r in caplog.records if r.name.startswith("apprise")]


def test_provider_is_the_documented_shape() -> None:
    provider = Provider(name="p", url="json://x/secret-part")
    assert (provider.shown, provider.title, provider.body, provider.secrets) == (
        "", None, None, ())
    assert "secret-part" not in repr(provider)


# ---------------------------------------------------------------------- property tests

TEXTS = st.one_of(st.text(max_size=12), st.sampled_from(
    [HOOK, "ntfy://t", "pover://u@t", "https://x/", "{name}", "{", "}", "{x}", "ops", ""]))
VALUES = st.one_of(TEXTS, st.none(), st.integers(-1, 10), st.lists(TEXTS, max_size=3),
                   st.dictionaries(TEXTS, TEXTS, max_size=2))
PROVIDERS = st.lists(st.one_of(VALUES, st.fixed_dictionaries(
    {"name": st.one_of(st.sampled_from(["ops", "pager"]), VALUES),
     "url": st.one_of(st.sampled_from([HOOK, "ntfy://topic"]), VALUES)},
    optional={"title": TEXTS, "body": TEXTS})), max_size=3)


@settings(max_examples=300, deadline=None)
@given(PROVIDERS, st.one_of(st.just(None), VALUES),
       st.dictionaries(st.sampled_from(["notifyOn", "notifyRetryFor", "heartbeatUrl",
                                        "heartbeatInterval"]), VALUES, max_size=2))
def test_arbitrary_notification_keys(providers: Any, names: Any, top: dict[str, Any]) -> None:
    """A Config whose monitors name only known providers, or one line naming the path."""
    site: dict[str, Any] = {"URL": URL} if names is None else {"URL": URL, "notify": names}
    try:
        config = parse_config(doc(site, notify=providers, **top))
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("config.json: ") and message.splitlines() == [message]
        return
    known = {p.name for p in config.providers}
    assert len(known) == len(config.providers)
    assert config.monitors[0].notify is None or set(config.monitors[0].notify) <= known
    assert config.monitors[0].notify_on <= set(EVENTS)
