"""Adding, editing and deleting monitors from forms: the fields built from config.json's
schema for every kind (an entry shown and sent back unchanged is the same entry), the
loader's errors at their fields with what was typed kept, edits over a changed file
refused, read-only sessions refused. Through Flask's test client over real files; then in
a real browser against the real `-m --web`."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest

from monitor.config import parse_config
from monitor.core.errors import ConfigError
from monitor.web import forms
from monitor.web.pages import monitor_url
from tests.support.browser import Site, log_in
from tests.support.pages import PageServer
from tests.support.web import READ_TOKEN, URL, Web, write_config

TCP = {"type": "tcp", "host": "127.0.0.1", "port": 7000, "name": "tcp one"}
SECRET_URL = "https://user:s3cret-pass@example.com/x"
# One entry of each kind, with keys of every shape: text, numbers, durations as numbers and
# strings, booleans both ways, selects, lists, objects, a string where JSON is taken.
EXAMPLES: dict[str, dict[str, Any]] = {
    "http": {"URL": "https://example.com/health", "name": "site", "checkInterval": "30s",
             "timeout": 5, "expect": {"status": 200, "bodyContains": "ok"},
             "headers": {"X-Key": "value"}, "tlsVerify": False, "plugins": ["tls"],
             "tags": ["web", "prod"], "paused": True, "notifyOn": ["alert", "recovery"],
             "alertAfter": {"failures": 3, "of": 5}, "recoverAfter": 2,
             "alertThreshold": 0.5, "maxBodyBytes": 4096},
    "content": {"type": "content", "URL": "https://example.com/", "history": 20,
                "maxDeviation": 2.5, "ignoreTags": ["script", "style"]},
    "tcp": {"type": "tcp", "host": "127.0.0.1", "port": 22, "send": "PING", "expect": "^PONG",
            "notify": []},
    "tls": {"type": "tls", "host": "example.com", "port": 443, "serverName": "example.com",
            "tlsMinDaysLeft": 14, "tlsVerify": True, "checkInterval": 3600},
    "dns": {"type": "dns", "host": "example.com", "record": "A", "expect": "93.184.215.14",
            "server": "127.0.0.1", "port": 5353, "tcp": True},
    "disk": {"type": "disk", "path": "/", "maxPercent": 95, "warnPercent": 85},
    "memory": {"type": "memory", "maxPercent": 95.5},
    "cpu": {"type": "cpu", "maxPercent": 98, "warnPercent": 90, "checkInterval": "10s"},
    "load": {"type": "load", "max": 8, "warn": 4.5},
    "process": {"type": "process", "name": "ssh daemon", "process": "sshd", "min": 1, "max": 4},
    "log": {"type": "log", "path": "/var/log/nginx/access.log", "maxRate": 10,
            "format": "combined", "fromStart": True},
    "metric": {"type": "metric", "series": "app.latency", "function": "p99", "window": "5m",
               "max": 250, "warn": 200},
    "push": {"type": "push", "token": "t" * 24, "grace": "2m", "checkInterval": 86400,
             "name": "nightly backup"},
}


def posted(form: forms.Form) -> dict[str, str]:
    """What a browser sends of the form as shown: each text, each checked box."""
    values = {f.key: f.text for f in form.fields if f.widget != forms.CHECKBOX}
    values.update({f.key: "true" for f in form.fields if f.widget == forms.CHECKBOX
                   and f.checked})
    return values


# -- the fields, from the schema -------------------------------------------------------------

def test_every_kind_of_the_schema_has_a_form_with_its_keys() -> None:
    assert set(forms.kinds()) >= set(EXAMPLES)
    for kind in forms.kinds():
        form = forms.build(kind)
        properties, required = forms.shapes(kind)
        keys = [f.key for f in form.fields]
        assert sorted(keys) == sorted(properties), kind
        assert "type" not in keys
        assert {f.key for f in form.fields if f.required} == required, kind
        assert all(f.help for f in form.fields), kind
        # The required keys come first of all, then the essentials every monitor has.
        first = [f.key for f in form.sections[0].fields]
        assert first[:len(required)] == [k for k in properties if k in required], kind
        assert first[-len(forms.ESSENTIALS):] == list(forms.ESSENTIALS), kind


def test_each_shape_gets_its_control() -> None:
    fields = {f.key: f for f in forms.build("http").fields}
    assert fields["URL"].widget == forms.TEXT and fields["URL"].required
    assert fields["maxBodyBytes"].widget == forms.NUMBER
    assert (fields["maxBodyBytes"].minimum, fields["maxBodyBytes"].integer) == (1, True)
    assert fields["checkInterval"].widget == forms.SCALAR  # 30 or "30s"
    assert fields["tlsVerify"].widget == forms.CHECKBOX and fields["tlsVerify"].default
    assert fields["paused"].widget == forms.CHECKBOX and not fields["paused"].default
    assert fields["tags"].widget == forms.LINES and fields["notifyOn"].widget == forms.LINES
    assert fields["headers"].widget == forms.JSON and not fields["headers"].strings
    assert fields["alertAfter"].widget == forms.JSON  # 3, or {"failures": 3, "of": 5}
    log = {f.key: f for f in forms.build("log").fields}
    assert log["format"].widget == forms.SELECT and "combined" in log["format"].options
    dns = {f.key: f for f in forms.build("dns").fields}
    assert dns["expect"].widget == forms.JSON and dns["expect"].strings  # "1.2.3.4" or a list
    assert fields["checkInterval"].label == "Check interval"
    assert fields["URL"].label == "URL"
    assert {f.key: f for f in forms.build("tls").fields}["tlsMinDaysLeft"].label == \
        "TLS min days left"


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_an_entry_shown_and_sent_back_is_the_same_entry(kind: str) -> None:
    example = EXAMPLES[kind]
    parse_config(json.dumps({"monitors": [example]}))  # valid as written
    shown = forms.filled(forms.build(kind), example)
    made, form = forms.entry(forms.read(forms.build(kind), posted(shown)), example)
    assert form.invalid == []
    assert made == example
    assert list(made) == list(example)  # the keys keep their order


def test_a_new_entry_has_only_the_keys_given() -> None:
    values = {"host": "127.0.0.1", "port": " 22 ", "name": "", "tags": "a\n\n b \r\n",
              "send": "   "}
    made, form = forms.entry(forms.read(forms.build("tcp"), values))
    assert form.invalid == []
    # Only an empty field is no key: spaces alone are a value (the loader judges it).
    assert made == {"type": "tcp", "host": "127.0.0.1", "port": 22, "tags": ["a", "b"],
                    "send": "   "}
    # http, the default kind: no "type"; a box left as its default is no key.
    assert forms.entry(forms.read(forms.build("http"), {"URL": URL, "tlsVerify": "true"})
                       )[0] == {"URL": URL}
    assert forms.entry(forms.read(forms.build("http"), {"URL": URL}))[0] == {
        "URL": URL, "tlsVerify": False}  # unchecked
    assert [f.checked for f in forms.build("http").fields if f.key == "tlsVerify"] == [True]
    made, _ = forms.entry(forms.read(forms.build("http"), {"URL": URL, "tags": "[]",
                                                          "checkInterval": "1.5"}))
    assert made["tags"] == [] and made["checkInterval"] == 1.5


def test_text_that_is_not_json_is_an_error_at_its_field_or_a_plain_string() -> None:
    _, form = forms.entry(forms.read(forms.build("http"), {"URL": URL, "headers": "{"}))
    assert [(f.key, f.error) for f in form.invalid] == [
        ("headers", "invalid JSON at line 1, column 2: Expecting property name enclosed in"
                    " double quotes")]
    made, form = forms.entry(forms.read(forms.build("dns"), {"host": "a.example",
                                                            "expect": "1.2.3.4"}))
    assert form.invalid == [] and made["expect"] == "1.2.3.4"
    made, _ = forms.entry(forms.read(forms.build("dns"), {"host": "a.example",
                                                         "expect": '["1.2.3.4", "::1"]'}))
    assert made["expect"] == ["1.2.3.4", "::1"]


def browsed(form: forms.Form) -> dict[str, str]:
    """What a browser sends of the form as shown: an input's value without its CR and LF
    (browsers drop them), a textarea's without a first line break (HTML drops it) and with
    each line break as CRLF."""
    values = posted(form)
    for f in form.fields:
        if f.widget in (forms.LINES, forms.JSON):
            values[f.key] = re.sub(r"\r\n|\r|\n", "\r\n", f.text.removeprefix("\n"))
        elif f.widget != forms.CHECKBOX:
            values[f.key] = re.sub(r"[\r\n]", "", f.text)
    return values


ODD_STRINGS = ["PING\r\n", "\n", "\r", " ", "", " lead", "trail\t", '"quoted"', '" "',
               "\x7f", "a\u2028b", "\\n", "tab\tin", "30", "plain"]


@pytest.mark.parametrize("value", ODD_STRINGS)
def test_a_string_a_browser_would_change_is_shown_so_that_it_comes_back(value: str) -> None:
    # Line breaks, spaces at an end, a whitespace-only or empty string, a string that reads
    # as JSON or as a number: each in a text, select, duration and JSON-or-text field.
    for kind, key in (("tcp", "send"), ("log", "format"), ("http", "checkInterval"),
                      ("dns", "expect"), ("http", "tags")):
        example = {"type": kind, key: value if key != "tags" else [value, "b"]}
        shown = forms.filled(forms.build(kind), example)
        made, form = forms.entry(forms.read(forms.build(kind), browsed(shown)), example)
        assert form.invalid == [], (key, value)
        assert made == example, (key, value)


# -- the pages, through the test client --------------------------------------------------------

class _Sent(HTMLParser):
    """What a browser sends of the page's post form as shown: inputs, checked boxes, the
    text of textareas, the selected option (the first, "", when none is)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._text: str | None = None  # the textarea being read
        self._select: str | None = None
        self._pick = False
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._in_form = a.get("method") == "post"
        name = a.get("name")
        if not self._in_form:
            return
        if tag == "input" and name and (a.get("type") != "checkbox" or "checked" in a):
            self.values[name] = a.get("value", "")
        elif tag == "textarea" and name:
            self._text, self.values[name] = name, ""
        elif tag == "select" and name:
            self._select, self.values[name] = name, ""
        elif tag == "option":
            self._pick = self._select is not None and "selected" in a

    def handle_data(self, data: str) -> None:
        if self._text:
            self.values[self._text] += data
        elif self._pick and self._select:
            self.values[self._select], self._pick = data, False

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._text = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._in_form = False


def _form(web: Web, path: str) -> tuple[str, dict[str, str]]:
    """The page and what its form sends untouched (csrf, _etag, _kind and every field)."""
    answer = web.client.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_data(as_text=True), _sent(answer.get_data(as_text=True))


def _sent(html: str) -> dict[str, str]:
    parser = _Sent()
    parser.feed(html)
    return parser.values


def _field_html(html: str, key: str) -> str:
    start = html.index(f'data-key="{key}"')
    return html[start:html.index("</div>\n", html.index("<p class=\"help\"", start))]


def test_a_monitor_added_is_in_the_file_and_the_server_runs_it(make_web: Any) -> None:
    web = make_web()
    html, sent = _form(web, "/monitors/new?kind=tcp")
    assert sent["_kind"] == "tcp" and 'id="f-port"' in html
    answer = web.client.post("/monitors/new", data={**sent, "host": "127.0.0.1",
                                                    "port": "7000", "name": "tcp one"})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert answer.headers["Location"] == monitor_url("tcp:127.0.0.1:7000")
    assert web.document()["monitors"][1] == TCP
    assert "tcp:127.0.0.1:7000" in [m.id for m in web.context.config.monitors]


def test_the_loaders_error_is_shown_at_its_field_and_nothing_is_written(make_web: Any,
                                                                        ) -> None:
    web = make_web()
    before = web.config_path.read_bytes()
    _, sent = _form(web, "/monitors/new?kind=tcp")
    answer = web.client.post("/monitors/new", data={
        **sent, "host": "127.0.0.1", "port": "70000", "name": "kept as typed"})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    port = _field_html(html, "port")
    # The loader's own words (config.json: monitors[1].port: must be ...), at the field.
    assert '<p class="error" id="f-port-error">must be a whole number from 1 to 65535</p>' \
        in port
    assert 'aria-invalid="true"' in port
    assert 'aria-describedby="f-port-help f-port-error"' in port
    assert 'value="70000"' in port and "autofocus" in port
    assert 'value="kept as typed"' in _field_html(html, "name")
    assert "aria-invalid" not in _field_html(html, "host")
    assert "config.json" not in html.split('id="form-errors"')[1].split("</ul>")[0]
    assert web.config_path.read_bytes() == before
    # Deeper in a JSON field: the place inside it is named.
    _, sent = _form(web, "/monitors/new")
    answer = web.client.post("/monitors/new", data={**sent, "URL": "http://127.0.0.1:8/",
                                                    "expect": '{"status": "abc"}'})
    assert answer.status_code == 422
    assert "status: must be a status code from 100 to 599" in unescape(
        _field_html(answer.get_data(as_text=True), "expect"))
    # Not even JSON: refused before the loader, at its field.
    answer = web.client.post("/monitors/new", data={**sent, "URL": "http://127.0.0.1:8/",
                                                    "headers": "{"})
    assert answer.status_code == 422
    assert "invalid JSON at line 1, column 2" in _field_html(answer.get_data(as_text=True),
                                                             "headers")
    assert web.config_path.read_bytes() == before


def _errors(html: str) -> dict[str, str]:
    """Each field's error as the page shows it, by key."""
    return {unescape(m[1]): unescape(m[2]) for m in re.finditer(
        r'data-key="([^"]*)".*?(?:<p class="error" id="[^"]*">([^<]*)</p>|</div>)',
        html, re.S) if m[2] is not None}


def test_every_fields_error_is_shown_in_one_submit(make_web: Any) -> None:
    web = make_web()
    before = web.config_path.read_bytes()
    _, sent = _form(web, "/monitors/new")
    # The URL wrong (the loader stops there), and keys read before and after it.
    wrong = {"URL": "127.0.0.1:8080/health", "checkInterval": "fast", "maxBodyBytes": 0,
             "tags": ["a", "a"]}
    answer = web.client.post("/monitors/new", data={
        **sent, "URL": wrong["URL"], "checkInterval": "fast", "name": "kept",
        "maxBodyBytes": "0", "tags": "a\na"})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    errors = _errors(html)
    assert set(errors) == set(wrong)
    assert errors["URL"] == "must be an http:// or https:// URL with a host"
    # Each in the loader's words, as config.json gets it when it is the only one wrong.
    for key, value in wrong.items():
        alone = {"URL": URL, key: value}
        with pytest.raises(ConfigError) as caught:
            parse_config(json.dumps({"monitors": [alone]}))
        path = f"config.json: monitors[0].{key}"
        assert str(caught.value) == f"{path}: {errors[key]}".replace(": 1: ", "[1]: ")
    assert 'value="kept"' in _field_html(html, "name")
    assert "autofocus" in _field_html(html, "URL")  # the first in the form
    assert web.config_path.read_bytes() == before
    # A key judged against one left out is not said wrong (warnPercent against the
    # default maxPercent; a dns `name`, read as the name to look up without `host`).
    for kind, values, said in (
            ("cpu", {"maxPercent": "500", "warnPercent": "90", "timeout": "x"},
             {"maxPercent", "timeout"}),
            ("dns", {"host": "bad host!", "name": "label", "checkInterval": "fast"},
             {"host", "checkInterval"})):
        _, sent_kind = _form(web, f"/monitors/new?kind={kind}")
        answer = web.client.post("/monitors/new", data={**sent_kind, **values})
        assert set(_errors(answer.get_data(as_text=True))) == said, kind
    # A field that is not even JSON does not hide the others' errors either.
    answer = web.client.post("/monitors/new", data={**sent, "URL": URL + "x",
                                                    "headers": "{", "timeout": "-1"})
    assert set(_errors(answer.get_data(as_text=True))) == {"headers", "timeout"}
    # An edit: the masked password is the stored one, not an error.
    web = make_web({"monitors": [{"URL": SECRET_URL, "name": "secret one"}]})
    path = monitor_url("https://user:***@example.com/x", "edit")
    _, sent = _form(web, path)
    answer = web.client.post(path, data={**sent, "timeout": "0", "alertThreshold": "2"})
    assert answer.status_code == 422
    assert set(_errors(answer.get_data(as_text=True))) == {"timeout", "alertThreshold"}


def _help(html: str, key: str) -> str:
    """A field's help as read: its text, each element's own on a line."""
    field = _field_html(html, key)
    inner = field[field.index('<p class="help"'):]
    inner = re.sub(r'\s*<span class="format">', "\n", inner)
    return unescape(re.sub(r"<[^>]+>", "", inner)).strip()


def test_a_fields_description_and_its_format_are_apart(make_web: Any) -> None:
    web = make_web()
    html, _ = _form(web, "/monitors/new")
    assert _help(html, "tags") == ("A list of labels, each once, that lists and the"
                                   " dashboard group by.\nOne per line.")
    assert _help(html, "headers").endswith("secret ones are masked everywhere.\nJSON.")
    assert _help(html, "name").startswith("The label views")
    assert _help(html, "tlsVerify").endswith("(default: true).")  # no format: one line
    # The format is an element of its own, shown on its own line.
    assert re.search(r"group by\. <span class=\"format\">One per line\.</span></p>",
                     _field_html(html, "tags"))
    assert ".field .help .format { display: block; }" in web.client.get(
        re.search(r'href="([^"]*edit\.css[^"]*)"', html)[1]).get_data(as_text=True)


def test_the_essentials_come_first_and_the_rarely_needed_folded(make_web: Any) -> None:
    web = make_web()
    html, _ = _form(web, "/monitors/new")
    keys = re.findall(r'data-key="([^"]*)"', html)
    assert keys[:6] == ["URL", "name", "checkInterval", "timeout", "tags", "expect"]
    more = html[html.index("<summary>More options</summary>"):]
    more = more[:more.index("</details>")]
    assert re.findall(r'data-key="([^"]*)"', more) == [
        "maxBodyBytes", "headers", "tlsVerify", "caFile", "tlsMinDaysLeft",
        "tlsFailDaysLeft", "plugins", "id", "paused"]
    assert '<details class="card section">\n    <summary>More options' in html  # folded
    # Other kinds: their target first (required, else their first key), then the rest.
    for kind, first in (("tcp", ["host", "port", "name"]), ("cpu", ["maxPercent", "name"]),
                        ("process", ["process", "name"]), ("dns", ["host", "name"])):
        html, _ = _form(web, f"/monitors/new?kind={kind}")
        assert re.findall(r'data-key="([^"]*)"', html)[:len(first)] == first, kind
    # A new entry is written in the form's order; an edited one keeps the file's.
    _, sent = _form(web, "/monitors/new")
    answer = web.client.post("/monitors/new", data={
        **sent, "headers": '{"X-A": "b"}', "tags": "web", "name": "new",
        "URL": URL + "new", "tlsVerify": "true"})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert list(web.document()["monitors"][1]) == ["URL", "name", "tags", "headers"]
    web = make_web({"monitors": [{"headers": {"X-A": "b"}, "name": "n", "URL": URL}]})
    _, sent = _form(web, monitor_url(URL, "edit"))
    assert web.client.post(monitor_url(URL, "edit"), data={**sent, "tags": "t"}
                           ).status_code == 303
    assert list(web.document()["monitors"][0]) == ["headers", "name", "URL", "tags"]
    # An advanced field holding a value or an error shows its section open.
    html, _ = _form(web, monitor_url(URL, "edit"))
    assert '<details class="card section" open>\n    <summary>More options' in html


def test_another_kind_chosen_keeps_the_values_of_the_keys_it_has(make_web: Any) -> None:
    web = make_web()
    before = web.config_path.read_bytes()
    _, sent = _form(web, "/monitors/new")
    typed = {"URL": URL + "x", "name": "my name", "checkInterval": "30s", "tags": "a\r\nb",
             "expect": '{"status": 200}', "paused": "true"}
    del sent["tlsVerify"]  # unchecked
    answer = web.client.post("/monitors/new?kind=tcp", data={**sent, **typed,
                                                             "_switch": "tcp"})
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    again = _sent(html)
    assert again["_kind"] == "tcp" and "<h1>Add a tcp monitor</h1>" in html
    assert (again["name"], again["checkInterval"], again["tags"]) == ("my name", "30s",
                                                                     "a\nb")
    assert again["paused"] == "true"
    assert "URL" not in again and again["expect"] == ""  # tcp's expect is a pattern
    assert "aria-invalid" not in html and web.config_path.read_bytes() == before
    # tcp to tls: the host and the port mean the same; back to http: the box as it was.
    answer = web.client.post("/monitors/new?kind=tls", data={
        **again, "host": "127.0.0.1", "port": "8443", "_switch": "tls"})
    again = _sent(answer.get_data(as_text=True))
    assert (again["host"], again["port"], again["name"]) == ("127.0.0.1", "8443", "my name")
    assert "tlsVerify" in again  # tcp has no tlsVerify: tls's own default, checked
    assert web.client.post("/monitors/new", data={**again, "_switch": "nope"}
                           ).status_code == 400


def test_an_id_taken_is_shown_at_the_id(make_web: Any) -> None:
    web = make_web()
    _, sent = _form(web, "/monitors/new")
    answer = web.client.post("/monitors/new", data={**sent, "URL": URL})
    assert answer.status_code == 422
    assert "give this one another" in unescape(_field_html(answer.get_data(as_text=True),
                                                           "id"))
    assert len(web.document()["monitors"]) == 1


def test_an_edit_keeps_masked_secrets_and_may_change_the_id(make_web: Any) -> None:
    web = make_web({"monitors": [{"URL": SECRET_URL, "name": "secret one"}, TCP]})
    path = monitor_url("https://user:***@example.com/x", "edit")
    assert web.client.get(monitor_url("https://example.com/x", "edit")).status_code == 404
    html, sent = _form(web, path)
    assert "s3cret-pass" not in html
    assert sent["URL"] == "https://user:***@example.com/x"
    answer = web.client.post(path, data={**sent, "name": "renamed"})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert web.document()["monitors"][0] == {"URL": SECRET_URL, "name": "renamed"}
    # A new id: the answer leads to the monitor's new page.
    path = monitor_url("tcp:127.0.0.1:7000", "edit")
    _, sent = _form(web, path)
    assert sent["port"] == "7000" and sent["name"] == "tcp one"
    answer = web.client.post(path, data={**sent, "port": "7001", "name": ""})
    assert answer.headers["Location"] == monitor_url("tcp:127.0.0.1:7001")
    assert web.document()["monitors"][1] == {"type": "tcp", "host": "127.0.0.1",
                                             "port": 7001}


def test_an_edit_over_a_changed_file_is_refused_then_taken_knowingly(make_web: Any) -> None:
    web = make_web({"monitors": [{"URL": URL}, TCP]})
    path = monitor_url("tcp:127.0.0.1:7000", "edit")
    _, sent = _form(web, path)
    # Meanwhile, the file changes (another edit, or by hand).
    document = web.document()
    document["monitors"][1]["name"] = "changed by hand"
    write_config(web.config_path, document)
    changed = web.config_path.read_bytes()
    answer = web.client.post(path, data={**sent, "name": "mine"})
    assert answer.status_code == 409
    html = answer.get_data(as_text=True)
    assert "config.json has changed since this page was shown" in unescape(html)
    assert "changed by hand" in html  # the entry as it is now, to compare
    again = _sent(html)
    assert again["name"] == "mine" and again["_etag"] != sent["_etag"]
    assert web.config_path.read_bytes() == changed
    # Sent again from that page (its new ETag): written.
    assert web.client.post(path, data=again).status_code == 303
    assert web.document()["monitors"][1]["name"] == "mine"


def test_delete_asks_then_removes_the_entry(make_web: Any) -> None:
    web = make_web({"monitors": [{"URL": URL}, TCP]})
    path = monitor_url("tcp:127.0.0.1:7000", "delete")
    html, sent = _form(web, path)
    assert "Delete tcp one?" in html and 'id="confirm-delete"' in html
    write_config(web.config_path, {**web.document(), "alertThreshold": 0.7})
    answer = web.client.post(path, data=sent)
    assert answer.status_code == 409 and len(web.document()["monitors"]) == 2
    answer = web.client.post(path, data=_sent(answer.get_data(as_text=True)))
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    assert web.document()["monitors"] == [{"URL": URL}]
    assert [m.id for m in web.context.config.monitors] == [URL]
    assert web.client.get(path).status_code == 404



def test_a_delete_the_loader_refuses_is_shown_on_the_delete_page(make_web: Any) -> None:
    web = make_web({"monitors": [{"URL": URL, "name": "web"}, TCP], "statusPages": [
        {"slug": "acme", "title": "Acme", "groups": [{"name": "Web", "monitors": ["web"]}]}]})
    before = web.config_path.read_bytes()
    path = monitor_url(URL, "delete")
    _, sent = _form(web, path)
    answer = web.client.post(path, data=sent)
    assert answer.status_code == 422 and answer.mimetype == "text/html"
    html = unescape(answer.get_data(as_text=True))
    assert 'id="confirm-delete"' in html  # the delete page, not an error page
    assert ('Not deleted: config.json: statusPages[0].groups[0].monitors[0]: no monitor'
            ' "web" (by id or name)') in html
    assert str(web.config_path.parent) not in html
    assert web.config_path.read_bytes() == before



def test_a_file_made_invalid_by_hand_is_a_422_page_naming_the_file_alone(make_web: Any,
                                                                         ) -> None:
    web = make_web({"monitors": [{"URL": URL}, TCP]})
    _, sent = _form(web, monitor_url(URL, "delete"))
    web.config_path.write_text('{"monitors": [{"URL": "ftp://x/"}]}')
    for answer in (web.client.get(monitor_url(URL, "edit")),
                   web.client.post(monitor_url(URL, "delete"), data=sent)):
        assert answer.status_code == 422 and answer.mimetype == "text/html"
        html = unescape(answer.get_data(as_text=True))
        assert "config.json: monitors[0].URL: " in html
        assert str(web.config_path.parent) not in html


def test_the_pages_below_a_monitor_are_not_taken_for_its_id(make_web: Any) -> None:
    wiki = "https://wiki.example/"
    web = make_web({"monitors": [{"URL": wiki, "name": "wiki"}, TCP]})
    for monitor_id, name in ((wiki, "wiki"), ("tcp:127.0.0.1:7000", "tcp one")):
        edit = web.client.get(monitor_url(monitor_id, "edit"))
        assert edit.status_code == 200 and f"<h1>Edit {name}</h1>" in edit.get_data(
            as_text=True)
        delete = web.client.get(monitor_url(monitor_id, "delete"))
        assert delete.status_code == 200 and f"Delete {name}?" in delete.get_data(
            as_text=True)
    # An id that would end so names another monitor's page: none here.
    assert web.client.get("/monitors/https://wiki.example/edit").status_code == 404


def test_a_monitor_a_sites_plugins_make_is_edited_through_its_site(make_web: Any) -> None:
    web = make_web({"monitors": [{"URL": "https://example.com/", "plugins": ["tls"]}]})
    answer = web.client.get(monitor_url("https://example.com/tls", "edit"))
    assert answer.status_code == 409 and answer.mimetype == "text/html"
    assert "made by the plugins of" in unescape(answer.get_data(as_text=True))
    assert web.client.get("/monitors/new?kind=nope").status_code == 400


def test_forms_without_their_csrf_token_or_from_elsewhere_are_refused(make_web: Any) -> None:
    web = make_web()
    _, sent = _form(web, "/monitors/new?kind=tcp")
    fields = {**sent, "host": "127.0.0.1", "port": "7000"}
    without = {k: v for k, v in fields.items() if k != "csrf"}
    assert web.client.post("/monitors/new", data=without).status_code == 403
    assert web.client.post("/monitors/new", data={**fields, "csrf": "forged"}
                           ).status_code == 403
    answer = web.client.post("/monitors/new", data=fields,
                             headers={"Origin": "http://evil.example"})
    assert answer.status_code == 403
    assert web.client.post(monitor_url(URL, "delete"), data=without).status_code == 403
    assert len(web.document()["monitors"]) == 1
    assert web.client.post("/monitors/new", data=fields).status_code == 303  # the same, whole


def test_a_read_only_login_may_not_edit(make_web: Any) -> None:
    web = make_web(tokens=True)
    assert web.client.get("/monitors/new").status_code == 302  # to the login page
    csrf = _sent(web.client.get("/login").get_data(as_text=True))["csrf"]
    assert web.client.post("/login", data={"token": READ_TOKEN, "csrf": csrf}
                           ).status_code == 302
    csrf = _sent(web.client.get("/login").get_data(as_text=True))["csrf"]
    for path in ("/monitors/new", monitor_url(URL, "edit"), monitor_url(URL, "delete")):
        answer = web.client.get(path)
        assert answer.status_code == 403 and "read scope" in answer.get_data(as_text=True)
        posted = web.client.post(path, data={"csrf": csrf, "_kind": "http", "URL": URL})
        assert posted.status_code == 403
    assert web.document()["monitors"] == [{"URL": URL}]


# -- in a real browser, against the real -m --web ------------------------------------------

@pytest.fixture()
def target() -> Iterator[PageServer]:
    with PageServer() as pages:
        pages.set("/up", "ok")
        yield pages


def _checks(site: Site, monitor_id: str) -> int:
    with contextlib.suppress(sqlite3.OperationalError), sqlite3.connect(
            f"file:{site.db_path}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM website_monitoring WHERE monitor = ?",
                                (monitor_id,)).fetchone()[0])
    return 0


def test_adding_a_monitor_in_a_browser(make_site: Any, page: Any, target: PageServer,
                                       ) -> None:
    site: Site = make_site({"monitors": [{"URL": target.url("/up"), "checkInterval": 60}]},
                           tokens=True)
    log_in(page, site, then="/monitors/new")
    page.console.allow("status of 422")
    before = site.config_path.read_bytes()
    page.fill("#f-URL", "not a url")
    page.fill("#f-name", "the new one")
    page.click("#save")
    page.wait_for_load_state()
    error = page.locator("#f-URL-error")
    assert error.inner_text() == "must not contain spaces"
    assert page.get_attribute("#f-URL", "aria-invalid") == "true"
    assert "f-URL-error" in page.get_attribute("#f-URL", "aria-describedby")
    assert page.input_value("#f-URL") == "not a url"
    assert page.input_value("#f-name") == "the new one"
    assert page.evaluate("document.activeElement.id") == "f-URL"
    assert site.config_path.read_bytes() == before
    new_url = target.url("/up?new")
    page.fill("#f-URL", new_url)
    page.fill("#f-checkInterval", "0.5")
    page.click("#save")
    page.wait_for_url(re.compile(re.escape(monitor_url(new_url)) + "$"))
    assert site.document()["monitors"][1] == {"URL": new_url, "name": "the new one",
                                              "checkInterval": 0.5}
    # The running monitor took it at once: its checks are in the database.
    deadline = time.monotonic() + 10
    while _checks(site, new_url) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _checks(site, new_url) > 0


def test_editing_then_deleting_in_a_browser(make_site: Any, page: Any) -> None:
    site: Site = make_site({"monitors": [{"URL": URL, "checkInterval": 60}, TCP]})
    page.goto(site.url.rstrip("/") + monitor_url("tcp:127.0.0.1:7000", "edit"))
    assert page.input_value("#f-name") == "tcp one"
    page.fill("#f-name", "renamed")
    page.click("#save")
    page.wait_for_url(re.compile(re.escape(monitor_url("tcp:127.0.0.1:7000")) + "$"))
    assert site.document()["monitors"][1]["name"] == "renamed"
    page.goto(site.url.rstrip("/") + monitor_url("tcp:127.0.0.1:7000", "delete"))
    # Deleted, the browser goes to the dashboard.
    page.click("#confirm-delete")
    page.wait_for_url(site.url)
    assert site.document()["monitors"] == [{"URL": URL, "checkInterval": 60}]



def test_another_kind_chosen_in_a_browser_keeps_what_was_typed(make_site: Any, page: Any,
                                                              target: PageServer) -> None:
    site: Site = make_site({"monitors": [{"URL": URL, "checkInterval": 60}]})
    page.goto(f"{site.url}monitors/new")
    page.fill("#f-URL", target.url("/up"))
    page.fill("#f-name", "typed first")
    page.fill("#f-checkInterval", "45")
    page.fill("#f-tags", "one\ntwo")
    with page.expect_navigation():
        page.select_option("#kind", "content")
    assert page.url.endswith("/monitors/new?kind=content")
    assert page.input_value("#f-URL") == target.url("/up")  # content has a URL too
    with page.expect_navigation():
        page.select_option("#kind", "tcp")
    assert page.input_value("#kind") == "tcp"
    assert page.input_value("#f-name") == "typed first"
    assert page.input_value("#f-checkInterval") == "45"
    assert page.input_value("#f-tags") == "one\ntwo"
    assert page.input_value("#f-host") == ""
    page.fill("#f-host", "127.0.0.1")
    port = int(target.server_address[1])
    page.fill("#f-port", str(port))
    page.click("#save")
    page.wait_for_url(re.compile(re.escape(monitor_url(f"tcp:127.0.0.1:{port}")) + "$"))
    assert site.document()["monitors"][1] == {
        "type": "tcp", "host": "127.0.0.1", "port": port, "name": "typed first",
        "checkInterval": 45, "tags": ["one", "two"]}


def test_odd_strings_are_saved_unchanged_in_a_browser(make_site: Any, page: Any) -> None:
    # An input drops CR and LF, spaces at an end are unseen: such strings are shown quoted.
    odd = {"type": "tcp", "host": "127.0.0.1", "port": 9, "send": "PING\r\n",
           "expect": " ", "name": " padded ", "checkInterval": 60}
    site: Site = make_site({"monitors": [odd]})
    before = site.config_path.read_bytes()
    page.goto(site.url.rstrip("/") + monitor_url("tcp:127.0.0.1:9", "edit"))
    assert page.input_value("#f-send") == '"PING\\r\\n"'
    page.click("#save")
    page.wait_for_url(re.compile(re.escape(monitor_url("tcp:127.0.0.1:9")) + "$"))
    assert site.document()["monitors"] == [odd]
    assert site.config_path.read_bytes() == before


def test_a_form_without_its_token_or_from_another_origin_is_refused_in_a_browser(
        make_site: Any, page: Any) -> None:
    site: Site = make_site({"monitors": [{"URL": URL, "checkInterval": 60}]})
    before = site.config_path.read_bytes()
    page.console.allow("status of 403")
    # The kind chosen shows its form at once (the script), without the button.
    page.goto(f"{site.url}monitors/new")
    assert page.is_hidden("#kind-go")
    with page.expect_navigation():
        page.select_option("#kind", "tcp")
    assert page.url.endswith("/monitors/new?kind=tcp")
    csrf = page.get_attribute("input[name=csrf]", "value")
    page.fill("#f-host", "127.0.0.1")
    page.fill("#f-port", "7000")
    page.evaluate("document.querySelector('#monitor-form input[name=csrf]').remove()")
    with page.expect_navigation() as sent:
        page.click("#save")
    assert sent.value.status == 403
    assert "CSRF" in page.inner_text("main")
    # A page of another origin (another port of this machine), with the token itself.
    with PageServer() as elsewhere:
        page.console.allow(r"/favicon\.ico\)$")  # the other origin's: it has none
        action = f"{site.url}monitors/new"
        evil = elsewhere.set("/", f"""<!doctype html><form method="post" action="{action}">
            <input name="csrf" value="{csrf}"><input name="_kind" value="tcp">
            <input name="host" value="127.0.0.1"><input name="port" value="7000">
            <button id="go">go</button></form>""")
        page.goto(evil)
        with page.expect_navigation() as sent:
            page.click("#go")
        assert sent.value.status == 403
        assert "another site" in page.inner_text("main")
    assert site.config_path.read_bytes() == before
