"""deploy/*.service: ``systemd-analyze verify`` accepts them, and our CLI accepts their commands."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledgerflow.cli import main

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
INSTALLED = "/opt/ledgerflow/venv/bin/ledgerflow"
UNITS = {"ledgerflow-api.service": "ledgerflow-api.service",
         "ledgerflow-worker@.service": "ledgerflow-worker@default.service"}  # fmt: skip


def exec_start(unit: Path, instance: str = "default") -> list[str]:
    (line,) = [x for x in unit.read_text().splitlines() if x.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart=").replace("%i", instance))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    executable = Path(sys.executable).with_name("ledgerflow")
    if not executable.exists():  # an environment without the console script: any executable
        executable = Path(sys.executable)
    for source, name in UNITS.items():
        text = (DEPLOY / source).read_text().replace(INSTALLED, str(executable))
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", *UNITS.values()],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert "Unknown" not in done.stderr + done.stdout, done.stderr


@pytest.mark.parametrize("source", sorted(UNITS))
def test_the_units_run_commands_the_cli_has(source: str) -> None:
    argv = exec_start(DEPLOY / source)
    assert argv[0] == INSTALLED
    answer = CliRunner().invoke(main, [*argv[1:], "--help"])
    assert answer.exit_code == 0, answer.output
