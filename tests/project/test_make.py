"""The Makefile (issue 22, 8): `make run` installs the runtime packages only, `make test`
the test and lint tools too; both do all set-up on a fresh machine. Read with `make -n`
against a virtualenv path that does not exist, as on a fresh machine."""

import os
import shutil
import subprocess
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
    assert f"{venv}/bin/python -m pytest" in lines


def test_run_after_test_installs_nothing_more(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / ".installed").touch()
    (venv / ".installed-run").touch()
    assert planned("run", venv) == [f"{venv}/bin/python monitoringApp.py -m"]
