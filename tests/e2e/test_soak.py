"""The memory soak in a short mode: the real monitor in its own process for ~24 s.

100 sites at 0.2 s (500 checks/s), RSS every second, alert windows of 5 s so that they are
full before the warm-up (the first 8 s) ends. Too short to see a slow leak; it keeps the
soak from rotting and catches a gross one (the 5 MB tolerance over 16 s at 500 checks/s is
about 650 bytes per check).
"""

import json
import subprocess
import sys

from tests.support.app import ROOT

SITES, INTERVAL, SECONDS = 100, 0.2, 24


def test_soak_short_run_stores_checks_and_stays_flat():
    proc = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--seconds", str(SECONDS), "--sites", str(SITES),
         "--interval", str(INTERVAL), "--sample", "1", "--alert-window", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=SECONDS + 90)
    out = proc.stdout
    # 0 flat, 1 growing; anything else (or a traceback, which also exits 1) is a broken run.
    assert proc.returncode in (0, 1) and "verdict:" in out, (
        f"the soak itself failed:\n{out}\n{proc.stderr}")

    rows = [line.split() for line in out.splitlines() if line[:8].strip().replace(".", "")
            .isdigit()]
    assert len(rows) == SECONDS  # one row a second
    for label in ("RSS at end of warm-up", "RSS at end", "growth after warm-up", "checks:",
                  "verdict:"):
        assert label in out

    figures = {}
    for line in out.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            figures[entry["figure"]] = entry
    assert set(figures) == {"soak_rss_warmup_mb", "soak_rss_end_mb", "soak_rss_growth_mb",
                            "soak_rss_slope_kb_per_min", "soak_checks_per_s",
                            "soak_write_lag_s"}
    assert 10 < figures["soak_rss_warmup_mb"]["value"] < 500  # a plausible RSS, in MB
    assert figures["soak_rss_warmup_mb"]["at_s"] == 8.0

    checks = figures["soak_checks_per_s"]
    expected = SITES / INTERVAL
    assert checks["expected"] == expected
    assert checks["value"] >= 0.7 * expected, checks
    # Stored in the database, not just counted: about the rate over the whole run.
    assert checks["stored"] >= 0.7 * expected * (SECONDS - 2), checks

    growth = figures["soak_rss_growth_mb"]
    assert growth["tolerance_mb"] == 5.0
    assert growth["verdict"] == "flat", f"memory grew after warm-up:\n{out}"
    assert proc.returncode == 0
