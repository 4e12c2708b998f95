"""bench.locations' quick mode, so that it does not rot (figures are not judged here): the
real `-m --web` and `serve` over agents' posted checks, each read of a monitor of several
locations timed on both."""

from tests.project.test_bench_smoke import quick_figures


def test_locations_bench_quick_mode_times_every_read_on_both_servers() -> None:
    figures = quick_figures("bench.locations", 300)
    reads = ("monitor API", "monitor page", "dashboard's 30 rows", "all, with locations")
    assert set(figures) == {f"{read}, {server}" for read in reads
                            for server in ("-m --web", "serve")}
    assert all(entry["checks_per_s"] > 0 for entry in figures.values())
