"""The keys of issue 23 in config.json: a monitor's `paused` and `tags`, and `$schema` at
the top level for editors; each refused with the loader's one-line message."""

from __future__ import annotations

import pytest

from tests.support.config import URL, error_of, parse


def test_paused_and_tags_are_read_and_default_to_none() -> None:
    plain, paused = parse({"URL": URL}, {"URL": URL + "b", "paused": True,
                                         "tags": [" web ", "prod"]}).monitors
    assert (plain.paused, plain.tags) == (False, ())
    assert (paused.paused, paused.tags) == (True, ("web", "prod"))


def test_a_sites_plugged_monitors_are_paused_and_tagged_with_it() -> None:
    site, tls = parse({"URL": URL, "paused": True, "tags": ["web"],
                       "plugins": ["tls"]}).monitors
    assert (tls.id, tls.paused, tls.tags) == (URL + "tls", True, ("web",))


@pytest.mark.parametrize(("entry", "message"), [
    ({"paused": "yes"}, "websites[0].paused: must be true or false"),
    ({"tags": "web"}, "websites[0].tags: must be a list of strings"),
    ({"tags": ["web", 1]}, "websites[0].tags[1]: must be a non-empty string"),
    ({"tags": [" "]}, "websites[0].tags[0]: must be a non-empty string"),
    ({"tags": ["a", "b", "a"]}, 'websites[0].tags[2]: "a" appears more than once'),
    ({"tags": ["a\nb"]}, "websites[0].tags[0]: must not contain control characters or"
                         " unpaired surrogates"),
])
def test_bad_values_are_refused(entry: dict, message: str) -> None:
    assert error_of({"URL": URL, **entry}) == message


def test_the_canary_cannot_be_paused() -> None:
    assert error_of({"URL": URL}, canary={"URL": URL, "paused": True}) == (
        "canary.paused: the canary cannot be paused (remove it instead)")


def test_schema_at_the_top_level_is_for_editors() -> None:
    assert len(parse({"URL": URL}, **{"$schema": "./config.schema.json"}).monitors) == 1
