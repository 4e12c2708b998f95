"""The benchmark's quick mode, so that it does not rot (figures are not judged here)."""

import json
import subprocess
import sys

from tests.support.app import ROOT


def quick_figures(module: str, timeout: float, *args: str) -> dict[str, dict]:
    """Run `python -m MODULE --quick ARGS`; its JSON figure lines, by name."""
    proc = subprocess.run([sys.executable, "-m", module, "--quick", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {entry["figure"]: entry for entry in
            (json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{"))}


def test_bench_quick_mode_prints_every_figure():
    figures = quick_figures("bench.run", timeout=120)
    assert set(figures) == {
        "reference_requests_checks_per_s", "engine_punctual_checks_per_s",
        "engine_punctual_lateness_p99_ms", "engine_punctual_cpu_us_per_check",
        "engine_punctual_stats_print_ms_max", "engine_max_checks_per_s",
        "store_write_rows_per_s", "report_10min_ms", "report_1h_ms",
        "report_p99_max_relative_error",
    }
    punctual = figures["engine_punctual_checks_per_s"]
    assert punctual["failed"] == 0  # the local target answered every check
    assert figures["report_p99_max_relative_error"]["value"] < 0.05


def test_peers_quick_mode_measures_every_peer_on_the_same_nginx():
    # Installs nginx, the blackbox exporter, Monit and wrk from Debian if they are missing.
    figures = quick_figures("bench.peers", timeout=1200)
    assert set(figures) == {
        "peer_blackbox_probes_per_s", "peer_monit_checks_per_s", "engine_vs_nginx_checks_per_s",
        "engine_punctual_nginx_lateness_p99_ms", "engine_punctual_100ms_lateness_p99_ms",
    }
    # Every peer really checked the target: probes succeeded, Monit made its checks.
    assert figures["peer_blackbox_probes_per_s"]["failed"] == 0
    assert figures["peer_blackbox_probes_per_s"]["value"] > 0
    assert figures["peer_monit_checks_per_s"]["value"] > 0
    for name in ("engine_punctual_nginx_lateness_p99_ms", "engine_punctual_100ms_lateness_p99_ms"):
        assert figures[name]["failed"] == 0
    assert figures["engine_vs_nginx_checks_per_s"]["ratio_to_blackbox"] > 0


def test_real_bench_quick_mode_reads_the_real_program_from_outside():
    # Installs nginx from Debian if it is missing. Small sizes, seconds per scenario.
    figures = quick_figures("bench.real", 300, "--only", "punctual,large", "--minutes", "0.1",
                            "--punctual-monitors", "100", "--large-monitors", "500",
                            "--large-minutes", "0.2")
    assert set(figures) == {
        "punctual_lateness_p99_ms", "punctual_slots_skipped", "punctual_stored_share",
        "punctual_newest_age_max_s", "large_first_check_s", "large_stored_share",
        "large_uss_kb_per_monitor", "large_stop_s", "large_checks_lost", "large_report_once_s",
    }
    # Every figure is judged against its target (whether it meets it is not asserted here).
    assert all({"target", "target_is", "meets"} <= set(entry) for entry in figures.values())
    punctual = figures["punctual_lateness_p99_ms"]
    assert punctual["stored"] > 0 and punctual["failed"] == 0  # nginx answered every check
    assert punctual["value"] is not None and punctual["value"] >= 0
    assert 0 < punctual["cpu_us_per_check"] < 1e6 and punctual["uss_mb"] > 1
    assert figures["punctual_newest_age_max_s"]["samples"] > 0
    assert 0 < figures["punctual_stored_share"]["value"] <= 1.1
    assert figures["large_stored_share"]["slots_covered"] > 0
    assert 0 < figures["large_first_check_s"]["value"] < 60
    assert figures["large_uss_kb_per_monitor"]["value"] > 0
    assert figures["large_stop_s"]["exited"] is True
    assert figures["large_checks_lost"]["made"] > 0
    report = figures["large_report_once_s"]
    assert report["exit"] == 0 and report["lines"] > 0


def test_view_bench_quick_mode_draws_a_screen():
    figures = quick_figures("bench.view", timeout=120)
    assert set(figures) == {"view_redraw_cpu_ms", "view_refresh_cpu_ms", "plain_table_cpu_ms"}
    assert figures["view_redraw_cpu_ms"]["value"] > 0


def test_availability_bench_quick_mode_measures_against_the_truth():
    figures = quick_figures("bench.availability", timeout=120)
    entry = figures["availability_error_points"]
    assert entry["slots"] > 100 and entry["rows"] > 100


def test_rules_bench_runs_each_case():
    proc = subprocess.run([sys.executable, "-m", "bench.rules", "--monitors", "10",
                           "--checks", "2000"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "window rule only" in proc.stdout and "every rule set" in proc.stdout


def test_logs_bench_quick_mode_measures_goaccess_and_the_replay():
    # Installs goaccess from Debian if it is missing.
    figures = quick_figures("bench.logs", timeout=600)
    assert figures["logs_ours_lines_per_s"]["mode"] == "replay"
    for name in ("logs_goaccess_lines_per_s", "logs_goaccess_our_panels_lines_per_s",
                 "logs_ours_lines_per_s", "logs_ours_peak_mb", "parse_w3c_ns_per_line"):
        assert figures[name]["value"] > 0, name


def test_stop_bench_quick_mode_counts_the_rows_of_the_real_program():
    # Installs nginx from Debian if it is missing.
    figures = quick_figures("bench.stop", timeout=300)
    assert set(figures) == {"stop_seconds", "stop_rows_vs_last_line",
                            "stop_writer_lag_at_signal_s"}
    rows = figures["stop_rows_vs_last_line"]
    assert rows["value"] > 0 and rows["last_line_minus_rows"] == 0


def test_push_bench_quick_mode_counts_every_push_stored():
    figures = quick_figures("bench.push", timeout=180)
    assert set(figures) == {"push_reference_requests_per_s", "push_ingest_per_s",
                            "push_lost", "push_judged_after_s"}
    lost = figures["push_lost"]
    assert lost["answered"] > 0 and lost["value"] == 0 and lost["refused"] == 0


def test_server_bench_quick_mode_times_each_read_of_the_real_server():
    proc = subprocess.run([sys.executable, "-m", "bench.server", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reads = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert {entry["what"] for entry in reads if entry["figure"] == "api_read_ms"} == {
        "the monitors, all in one page", "90-day uptime of every monitor",
        "a year of a monitor's response time, by day",
        "a year of a monitor's response time, by 3 h",
        "90 daily bars of every monitor (a status page of all)"}
    assert all(entry["bytes"] > 100 for entry in reads if entry["figure"] == "api_read_ms")


def test_metrics_bench_quick_mode_scrapes_the_real_server():
    figures = quick_figures("bench.metrics", timeout=300)
    assert {"api_root_ms", "metrics_ms", "render_text_ms", "render_openmetrics_ms",
            "store_reads_ms", "load_average"} <= set(figures)
    assert figures["metrics_ms"]["monitors"] == 200 and figures["metrics_ms"]["bytes"] > 10_000


def test_monitor_page_bench_quick_mode_draws_both_ranges_and_pauses():
    figures = quick_figures("bench.web_monitor", timeout=300)
    assert {"monitor_page_chart_24h_ms", "monitor_page_chart_1y_ms",
            "monitor_page_first_load_bytes", "monitor_page_pause_ms",
            "monitor_page_resume_ms"} <= set(figures)
    assert figures["monitor_page_chart_1y_ms"]["points"] >= 365  # a point a day
    assert figures["monitor_page_first_load_bytes"]["value"] > 10_000


def test_status_page_bench_quick_mode_keeps_pages_open_and_refreshing():
    figures = quick_figures("bench.web_status", timeout=300)
    assert {"status_pages_idle_cpu", "status_pages_cpu", "status_pages_incident_cpu",
            "status_page_first_load_bytes", "status_page_first_load_ms"} <= set(figures)
    assert figures["status_pages_cpu"]["answers"].get("304", 0) > 0  # refreshed, unchanged
    assert figures["status_pages_incident_cpu"]["answers"].get("200", 0) > 0
    assert figures["status_page_first_load_bytes"]["value"] > 5_000


def test_edit_bench_quick_mode_edits_pauses_and_deletes_from_the_pages():
    figures = quick_figures("bench.web_edit", timeout=300)
    assert {"api_root_ms", "web_page_opened_ms", "web_edit_ms", "web_pause_ms",
            "web_delete_ms", "config_write_ms"} <= set(figures)
    assert figures["web_edit_ms"]["monitors"] == 200
    assert "validate (the loader)" in figures["config_write_ms"]["parts"]
