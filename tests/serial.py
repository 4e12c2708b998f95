"""The tests that `make test` runs alone, after all the others have run in parallel.

`make test` runs pytest twice: `-m "not serial"` on several workers (pytest-xdist), then
`-m serial` with nothing else on the machine. The tests named here get the `serial` mark
(tests/conftest.py): those that assert on the real clock how soon or how fast something
happens (a bound on elapsed time, lateness, a throughput floor, StallMeter), which
parallel neighbours on 2 cores would make fail now and then without a bug.

An entry is a test module, by its name (`test_crash`) or the end of its path
(`checks/test_http`), alone (every test in it) or with `::test_name` (that test function
or method, `Class::test_name`, with all its parameters). The value says why. An entry that
names nothing is an error in a run of the whole suite, so a renamed test cannot slip into
the parallel pass unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath

import pytest

SERIAL: dict[str, str] = {
    # Whole modules: most of their tests bound a time on the real clock, or the one test
    # they hold loads the machine to measure a rate.
    "test_crash": "kill -9 at random moments loses at most 1 s of checks: the writer must "
                  "keep up with ~630 checks/s, which a loaded 2-core machine cannot promise",
    "test_soak": "a floor on checks stored per second of the run",
    "test_readers": "a floor on checks written per second while readers read",
    "test_hostile_matrix": "healthy sites' lateness next to hostile ones, with a StallMeter",
    "test_resolver": "lookups cut at their timeouts: bounds of 0.1-1.5 s on elapsed time",
    "test_connect_faults": "connect failures 'at once': bounds of 0.5-2.5 s on elapsed time",
    # No bound on time, but a race a loaded machine loses: a rotation not seen (5 of 6
    # truncations under 6 workers) when the writer refills the file before the next poll.
    "test_agent_process::test_a_config_change_reaches_the_agent_at_its_next_poll":
        "the removed monitor's checks end within 2 s of the poll that fetched the change",
    "test_agents_locations::test_an_agent_killed_raises_its_lost_alert_and_no_alert_of_its_monitors":
        "the lost-agent alert within agentTimeout + 10 s of the kill, and the agent's last"
        " request within 3 s before it",
    "test_postgres_program::test_two_monitors_share_one_database_and_take_over_at_a_kill":
        "the survivor checks all 20 monitors within the lease period after the kill",
    "test_bench_smoke::test_real_bench_quick_mode_reads_the_real_program_from_outside":
        "nginx must answer every check of the real -m within its 1 s timeout (failed == 0),"
        " which neighbours on 2 cores can starve",
    "test_follow::test_copytruncate_under_a_writer": "the follower must poll between the "
                                                      "truncate and the writer's refill",
    # Single tests: bounds of a few hundred ms to 3 s on elapsed time, or a rate.
    "store/test_store::test_workers_yield_to_a_starved_writer_for_a_bounded_time":
        "a worker's wait for a starved writer between 0.25 and 1.0 s on the real clock",
    "cli/test_group::test_the_monitor_flag_runs_what_its_command_runs":
        "the same lines from both runs: a check at a 0.1 s interval must answer within its"
        " 0.1 s timeout, or an ALERT line appears in one run only",
    "alerts/test_alert_text::test_the_lines_in_the_program_in_history_and_in_notifications":
        "each monitor's reason as written: the process monitor must list the processes within"
        " its 0.25 s, or its reason is a timeout",
    "render/test_live_view::test_more_sites_than_rows_shows_the_worst_and_counts_the_rest":
        "the view's rows in their order: loopback sites must answer within their 1 s timeout,"
        " or more of them are unstable than the test makes",
    "test_rules_e2e::test_flapping_reminders_and_maintenance_in_the_running_program":
        "flapping told from the state changes of checks 0.1 s apart within a 1 s window: a"
        " stalled machine changes how many fall in it",
    "e2e/test_e2e::test_selftest_passes": "the self-test's own check that its checks ran on "
                                          "schedule (a 0.2 s interval for 2.5 s)",
    "test_check_now::test_a_check_that_overruns_its_timeout_is_504_in_bounded_time":
        "the answer within the timeout and 2 s more (a bound of 3.2 s)",
    "test_serve::test_serve_answers_and_stops_at_sigint": "stopped within 5 s of SIGINT",
    "e2e/test_overload": "the overload said within 10 s of the start, and the rates it "
                         "quotes: 100 checks/s of 0.1 s answers need the CPU to make them",
    "render/test_live_view::test_an_overloaded_monitor_says_so_in_the_header":
        "the rates in the header: checks of 0.1 s answers need the CPU to be made",
    "test_events_serve::test_sigint_ends_the_open_streams_and_the_server_at_once":
        "stopped within 2 s of SIGINT with event streams open",
    "test_http::test_http_check_outcomes": "elapsed < 0.9 s and response time within 50 ms",
    "test_http::test_abort_cuts_a_hanging_check_short": "aborted within 0.5 s",
    "test_https::test_https_drip_is_cut_at_the_timeout": "cut within 1.5 s",
    "test_dns::test_silence_is_a_timeout_within_the_time_given": "300-1000 ms",
    "test_dns::test_nothing_listening_is_connect_at_once": "under 1000 ms",
    "test_tcp::test_a_silent_server_times_out": "0.3-1.0 s",
    "test_tcp::test_the_check_ends_promptly_when_the_monitor_stops": "within 1.0 s",
    "test_tcp::test_a_resolver_that_never_answers_is_bounded_by_the_timeout": "under 0.6 s",
    "test_tcp::test_a_first_address_that_never_answers_leaves_time_for_the_next":
        "the next address's share of the time, to 5 ms",
    "test_tcp::test_run_check_runs_the_kind_within_its_timeout": "0.2-0.6 s",
    "test_host::test_cpu_averages_since_the_previous_check": "under 100 ms",
    "test_host::test_a_first_cpu_check_measures_a_window_within_its_timeout": "0.15-0.29 s",
    "test_host::test_cpu_samples_are_per_monitor": "under 50 ms",
    "test_host::test_a_cpu_check_returns_at_once_when_the_monitor_stops": "under 0.1 s",
    "test_host::test_a_hung_filesystem_times_out_and_is_not_asked_twice": "under 0.5 s",
    "metrics/test_paths::test_pathological_inputs_take_milliseconds_on_the_clock":
        "under 0.5 s for patterns a backtracking matcher takes minutes on",
    "test_engine::test_wall_clock_steps_disturb_neither_schedule_nor_alerts":
        "at least 80% of the checks due at 20 per second",
    "test_heartbeat::test_a_hanging_server_does_not_delay_stop": "stop within 0.25 s",
    "test_heartbeat::test_stop_while_idle_returns_at_once": "stop within 0.5 s",
    "test_send::test_a_failure_says_why_in_one_line": "under 2 s",
    "test_send::test_notify_test_sends_to_all_or_the_named_at_once": "under 2.5 s",
    "test_send::test_hanging_providers_delay_no_other_provider":
        "others delayed under 0.5 s, stop under 1 s",
    "test_probes::test_stop_ends_every_process_and_keeps_every_result": "under 2 s",
    "test_live_view::test_a_site_going_down_moves_to_the_top_within_one_check":
        "within one check, with a StallMeter",
    "test_live_view::test_a_terminal_that_does_not_read_blocks_the_view_only":
        "stops within 3 s",
    "test_faults::test_blocked_stdout_holds_up_neither_reload_nor_stop": "under 3 s",
    "test_faults::test_output_close_gives_up_on_a_blocked_stdout_after_the_grace":
        "under 1 s",
    "test_group::test_monitor_command_then_the_readers_as_commands_and_flags":
        "stops within 2 s",
    "test_group::test_check_runs_the_monitors_at_once": "under 2.5 s",
    "test_disk_full::test_full_disk_warns_once_keeps_checking_and_alerting_then_resumes":
        "gaps between checks, with a StallMeter",
    "test_e2e::test_hostile_sites_end_to_end": "lateness under 100 ms, stop within 2 s",
    "test_e2e::test_sigterm_stops_within_two_seconds_while_a_check_hangs": "within 2 s",
    "test_e2e::test_alert_history_follows_new_alerts": "within 2 s",
    "test_e2e::test_ctrl_c_flushes_pending_checks": "within 2 s (failed at 2.8 s, 6 workers)",
    "test_notify_e2e::test_a_provider_that_hangs_does_not_hold_the_stop": "stop within 2 s",
    "pages/test_dashboard::test_a_site_that_fails_turns_red_within_2_s_of_its_check":
        "the row red within 2 s of its check, in Chromium",
}


def _module_matches(path: PurePath, module: str) -> bool:
    # "test_crash" or "e2e/test_crash" against tests/e2e/test_crash.py
    wanted = module.removesuffix(".py").split("/")
    parts = [*path.parent.parts, path.stem]
    return parts[-len(wanted):] == wanted


def _matches(item: pytest.Item, entry: str) -> bool:
    module, _, name = entry.partition("::")
    if not _module_matches(item.path, module):
        return False
    if not name:
        return True
    # The node id past the file, without parameters: "test_x" or "Class::test_x".
    inside = item.nodeid.split("::", 1)[1].split("[", 1)[0]
    return inside == name


def mark(items: Iterable[pytest.Item], whole_suite: bool) -> None:
    """Mark the tests named in SERIAL `serial`. In a run of the whole suite, an entry that
    matches no test is a usage error naming it."""
    unused = set(SERIAL)
    for item in items:
        for entry in SERIAL:
            if _matches(item, entry):
                item.add_marker(pytest.mark.serial)
                unused.discard(entry)
    if whole_suite and unused:
        raise pytest.UsageError("tests/serial.py names no collected test: "
                                + ", ".join(sorted(unused)))
