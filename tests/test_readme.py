"""The README's set-up and quick-start commands: what they write is ignored by git, and the
test command is the one ``.ci/run`` runs."""

from __future__ import annotations

import fnmatch
import re
import shlex
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
_SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _ignored(path: str, patterns: list[str]) -> bool:
    """True when a top-level ``path`` (a file, or a folder ending in ``/``) matches one of
    ``.gitignore``'s patterns (the subset of the syntax this repository uses)."""
    name = path.rstrip("/")
    for pattern in patterns:
        if pattern.endswith("/") and not path.endswith("/"):
            continue
        if fnmatch.fnmatch(name, pattern.strip("/")):
            return True
    return False


def _written_by_quick_start() -> list[str]:
    """The files and folders the README's commands on ``sample_images/`` write: ``-o FILE`` and
    ``--figures DIR`` / ``--save-outputs DIR`` arguments."""
    written = []
    for block in _SH_BLOCK.findall(README):
        for line in block.splitlines():
            if "sample_images/" not in line:
                continue
            for command in line.split("&&"):
                argv = shlex.split(command)
                for flag, value in zip(argv, argv[1:], strict=False):
                    if flag in ("-o", "--output"):
                        written.append(value)
                    elif flag in ("--figures", "--save-outputs"):
                        written.append(value.rstrip("/") + "/")
    return written


def test_quick_start_outputs_are_ignored_by_git():
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    written = _written_by_quick_start()
    assert "chelsea_x2.png" in written and "out/" in written
    assert [path for path in written if not _ignored(path, patterns)] == []


def _readme_test_command() -> str:
    for block in _SH_BLOCK.findall(README):
        for line in block.splitlines():
            if "pytest" in line:
                return line.split("&&")[-1].strip()
    raise AssertionError("the README has no test command")


def test_readme_test_command_names_skipped_tests():
    """``-rs`` lists every skipped test with its reason (a missing optional reference)."""
    assert "-rs" in shlex.split(_readme_test_command())


def test_ci_runs_the_readme_test_command():
    ci_lines = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()]
    assert _readme_test_command() in ci_lines
