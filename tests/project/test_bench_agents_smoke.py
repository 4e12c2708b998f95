"""bench.agents' quick mode, so that it does not rot (figures are not judged here): the
real server and real agents, read from outside."""

from tests.project.test_bench_smoke import quick_figures


def test_agents_bench_quick_mode_drains_and_compares_every_row():
    # Installs nginx from Debian if it is missing (the steady scenario checks it).
    figures = quick_figures("bench.agents", 300, "--no-reference")
    assert set(figures) == {
        "agents_drain_checks_per_s", "agents_drain_server_cpu_us_per_check",
        "agents_steady_lag_p99_s", "agents_steady_lost", "agents_steady_stored_twice",
        "agents_steady_waiting_after_stop", "agents_steady_agent_memory_mb",
    }
    memory = figures.pop("agents_steady_agent_memory_mb")  # a figure with no target
    assert memory["value"] > 0 and memory["server_mb"] > 0
    assert all({"target", "target_is", "meets"} <= set(entry) for entry in figures.values())
    drain = figures["agents_drain_checks_per_s"]
    assert drain["value"] > 0
    # Every row of every outbox reached the server (and the agents' own few checks).
    assert drain["stored_after_stop"] >= drain["total_backlog"] * 0.9
    assert figures["agents_drain_server_cpu_us_per_check"]["value"] > 0
    lag = figures["agents_steady_lag_p99_s"]
    assert lag["rows"] > 0 and 0 <= lag["value"] < 30
    assert figures["agents_steady_lost"]["made"] > 0
    assert figures["agents_steady_lost"]["value"] == 0
    assert figures["agents_steady_stored_twice"]["value"] == 0
