"""``docs/learn.md``: every command of the guided tour prints what the page says it prints.

The page's ``console`` blocks hold lines ``$ COMMAND`` each followed by its expected stdout.
``upsamp ...`` commands run through the Click entry point (no colour, a fixed terminal width),
``python -c ...`` commands (which write the ``.npy`` files some examples read) in a subprocess;
all of them in one empty folder, in page order. Trailing spaces are not compared.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from upsamp.cli import cli

REPO_ROOT = Path(__file__).resolve().parent.parent
LEARN = REPO_ROOT / "docs" / "learn.md"
SEEDS = (
    "000_fa2b601cadd88f57.txt",
    "001_5173c41b806d6ac6.txt",
    "002_cd11aa5df4666d0d.txt",
    "003_69796fc647406eca.txt",
)
ENVIRONMENT = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}

_BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)


def page_commands(text: str) -> list[tuple[str, str]]:
    """``(command, expected stdout)`` for every ``$`` line of every console block, in order."""
    found: list[tuple[str, list[str]]] = []
    for block in _BLOCK.findall(text):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            elif found:
                found[-1][1].append(line)
            else:
                raise AssertionError(f"output before any command in a console block: {line!r}")
    return [(command, "\n".join(lines)) for command, lines in found]


def normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def run_command(command: str, folder: Path) -> str:
    """Run one command of the page in ``folder`` and return its stdout."""
    argv = shlex.split(command)
    if argv[0] == "upsamp":
        result = CliRunner(env=ENVIRONMENT).invoke(cli, argv[1:], prog_name="upsamp",
                                                   catch_exceptions=False)
        assert result.exit_code == 0, (command, result.stdout, result.stderr)
        return result.stdout
    if argv[0] == "python" and argv[1] == "-c":
        done = subprocess.run(
            [sys.executable, "-c", argv[2]], cwd=folder, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, (command, done.stderr)
        return done.stdout
    raise AssertionError(f"the page may only run upsamp and python -c commands: {command}")


def test_the_page_covers_every_seed_document():
    text = LEARN.read_text(encoding="utf-8")
    for seed in SEEDS:
        assert seed in text, seed
    commands = [command for command, _ in page_commands(text)]
    assert sum(c.startswith("upsamp explain ") for c in commands) >= 15
    for method in ("nearest", "bilinear", "bed-of-nails", "max-unpool", "transconv"):
        assert any(c.startswith(f"upsamp explain {method} ") for c in commands), method


def test_every_command_prints_what_the_page_says(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key, value in ENVIRONMENT.items():
        monkeypatch.setenv(key, value)
    mismatches = []
    for command, expected in page_commands(LEARN.read_text(encoding="utf-8")):
        actual = run_command(command, tmp_path)
        if normalise(actual) != normalise(expected):
            mismatches.append(f"$ {command}\n--- page\n{expected}\n--- printed\n{actual}")
    assert not mismatches, "\n\n".join(mismatches)
    assert (tmp_path / "sedirts.html").is_file() and (tmp_path / "sedirts.gif").is_file()


@pytest.mark.parametrize("command", ["upsamp explain", "upsamp enlarge"])
def test_the_page_runs_the_same_through_python_m_upsamp(tmp_path, command):
    """One command of each kind through ``python -m upsamp`` in a subprocess, as a reader
    runs it (the other commands use the Click runner for speed)."""
    text = LEARN.read_text(encoding="utf-8")
    for setup, _ in page_commands(text):
        if setup.startswith("python -c"):
            run_command(setup, tmp_path)
    first = next((c, out) for c, out in page_commands(text) if c.startswith(command))
    argv = shlex.split(first[0])
    done = subprocess.run(
        [sys.executable, "-m", "upsamp", *argv[1:]], cwd=tmp_path, capture_output=True,
        text=True, timeout=120, check=False,
        env={**ENVIRONMENT, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert normalise(done.stdout) == normalise(first[1])
