"""The Makefile (issue 22, 8): `make run` installs the runtime packages only, `make test`
the test and lint tools too; both do all set-up on a fresh machine. Read with `make -n`
against a virtualenv path that does not exist, as on a fresh machine."""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.app import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


def planned(target: str, venv: Path) -> list[str]:
    # As a user's shell runs it: not as a sub-make of `make test` (which would print
    # "Entering directory" and pass its own flags down).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS",
                                                              "MAKELEVEL")}
    done = subprocess.run(["make", "--no-print-directory", "-n", target, f"VENV={venv}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
                          env=env)
    return done.stdout.splitlines()


def test_run_on_a_fresh_machine_installs_the_runtime_only(tmp_path):
    venv = tmp_path / "venv"
    lines = planned("run", venv)
    assert any(f"-m venv {venv}" in line for line in lines), lines
    installs = [line for line in lines if " install " in line and "--upgrade pip" not in line]
    assert installs == [f"{venv}/bin/pip install --quiet -e ."], lines
    assert lines[-1] == f"{venv}/bin/python monitoringApp.py -m"


def test_test_on_a_fresh_machine_installs_the_test_tools(tmp_path):
    venv = tmp_path / "venv"
    lines = planned("test", venv)
    assert any(f"-m venv {venv}" in line for line in lines), lines
    installs = [line for line in lines if "pip install" in line and "--upgrade pip" not in line]
    assert installs == [f"{venv}/bin/pip install --quiet -e '.[test]'"], lines
    assert [line for line in lines if " -m pytest" in line] == [
        f'{venv}/bin/python -m pytest -m "not serial" -n 4 --dist loadfile',
        f"{venv}/bin/python -m pytest -m serial"]


def test_run_after_test_installs_nothing_more(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / ".installed").touch()
    (venv / ".installed-run").touch()
    assert planned("run", venv) == [f"{venv}/bin/python monitoringApp.py -m"]


def collected(args: list[str]) -> list[str]:
    """The ids of the tests `python -m pytest ARGS` would run, as collected without running
    them (collect-only also sets pytest-xdist aside)."""
    done = subprocess.run([sys.executable, "-m", "pytest", *args, "--collect-only"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_the_two_passes_of_make_test_run_every_test_once(tmp_path):
    # The parallel pass and the serial one (tests/serial.py), as `make test` runs them.
    passes = [shlex.split(line)[3:] for line in planned("test", tmp_path / "venv")
              if " -m pytest" in line]
    parallel, alone = (collected(args) for args in passes)
    assert parallel and alone
    assert not set(parallel) & set(alone), "in both passes"
    every = collected([])
    missing = sorted(set(every) - set(parallel) - set(alone))
    assert not missing, f"{len(missing)} tests in neither pass: {missing[:5]}"
    assert len(parallel) + len(alone) == len(every)
