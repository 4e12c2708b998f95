"""`retention` (per tier) and `retentionDays` in config.json: defaults, each form, how they
combine, and the errors, each naming the file, the key and what is wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitor.config import parse_config
from monitor.config.retention import Retention
from monitor.core.errors import ConfigError

DAY = 86400.0
URL = "https://example.com/"


def kept(**top: Any) -> Retention | None:
    return parse_config(json.dumps({"monitors": [{"URL": URL}], **top})).retention


def test_neither_key_keeps_the_database_bounded_and_the_days_for_ever() -> None:
    assert kept() == Retention(30 * DAY, 90 * DAY, 730 * DAY, None)


def test_retention_days_alone_keeps_every_tier_as_long_as_before() -> None:
    assert kept(retentionDays=7) == Retention(7 * DAY, 7 * DAY, 7 * DAY, 7 * DAY)
    assert kept(retentionDays=0.5) == Retention.every(0.5 * DAY)


def test_each_tier_in_the_config_s_duration_forms_or_null_for_ever() -> None:
    assert kept(retention={"checks": "14d", "minutes": "2160h", "hours": 63072000,
                           "days": "3650d"}) == Retention(14 * DAY, 90 * DAY, 730 * DAY,
                                                          3650 * DAY)
    assert kept(retention={"hours": None, "days": None}) == Retention(30 * DAY, 90 * DAY,
                                                                       None, None)
    assert kept(retention={}) == Retention()


def test_a_tier_not_given_takes_its_default_within_what_the_given_allow() -> None:
    # Minutes kept a year: the hours' default (two years) is still longer; raw checks kept
    # 120 days: the minutes' default (90 days) rises to it.
    assert kept(retention={"minutes": "365d"}) == Retention(30 * DAY, 365 * DAY, 730 * DAY,
                                                            None)
    assert kept(retention={"checks": "120d"}) == Retention(120 * DAY, 120 * DAY, 730 * DAY,
                                                           None)
    # Hours kept 10 days: minutes (90 days by default) and raw checks no longer than that.
    assert kept(retention={"hours": "10d"}) == Retention(10 * DAY, 10 * DAY, 10 * DAY, None)
    assert kept(retention={"checks": None}) == Retention(None, None, None, None)


def test_both_keys_agree_on_the_raw_checks() -> None:
    assert kept(retentionDays=30, retention={"checks": "30d", "hours": "400d"}) == Retention(
        30 * DAY, 90 * DAY, 400 * DAY, None)
    # retention without checks: retentionDays says it; the other tiers are retention's.
    assert kept(retentionDays=10, retention={"days": "3650d"}) == Retention(
        10 * DAY, 90 * DAY, 730 * DAY, 3650 * DAY)


@pytest.mark.parametrize(("top", "message"), [
    ({"retention": "30d"}, 'retention: must be an object: {"checks": "30d", "minutes": "90d",'
                           ' "hours": "730d", "days": null}'),
    ({"retention": None}, "retention: must be an object"),
    ({"retention": {"raw": "30d"}}, "retention.raw: unknown key"),
    ({"retention": {"hour": "30d"}}, 'retention.hour: unknown key (did you mean "hours"?)'),
    ({"retention": {"checks": "30x"}}, "retention.checks: must be a duration greater than 0:"
                                       " a number of seconds, or a number with s, m, h or d"
                                       ' ("90s", "5m", "1h", "7d")'),
    ({"retention": {"checks": "2y"}}, "retention.checks: must be a duration greater than 0"),
    ({"retention": {"checks": 0}}, "retention.checks: must be a duration greater than 0"),
    ({"retention": {"checks": True}}, "retention.checks: must be a duration greater than 0"),
    ({"retention": {"minutes": "12h"}}, "retention.minutes: must be at least 1d"),
    ({"retention": {"days": "36501d"}}, "retention.days: must be at most 36500d"),
    ({"retention": {"minutes": "30d", "hours": "7d"}},
     'retention.hours: is "7d", shorter than retention.minutes ("30d"): a coarser tier is'
     " kept at least as long as a finer one"),
    ({"retention": {"checks": None, "days": "3650d"}},
     'retention.days: is "3650d", shorter than retention.checks (null (for ever))'),
    ({"retentionDays": 7, "retention": {"checks": "30d"}},
     'retention.checks: is "30d" but retentionDays says 7 days: give one of them'),
    ({"retentionDays": 100, "retention": {"minutes": "90d"}},
     'retention.minutes: is "90d", shorter than retentionDays ("100d")'),
])
def test_errors_name_the_file_the_key_and_what_is_wrong(top: dict[str, Any],
                                                         message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(json.dumps({"monitors": [{"URL": URL}], **top}), "conf.json")
    assert str(error.value).startswith(f"conf.json: {message}")


def test_cutoffs_of_a_purge() -> None:
    now = 1_800_000_000.0
    before, tiers = Retention(DAY, 2 * DAY, 3 * DAY, None).cutoffs(now)
    assert before == now - DAY
    assert tiers == {60: now - 2 * DAY, 600: now - 2 * DAY, 3600: now - 3 * DAY, 86400: None}
    assert Retention(None, None, None, None).cutoffs(now) == (0.0, dict.fromkeys(
        (60, 600, 3600, 86400)))
