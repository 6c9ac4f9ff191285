"""The repository stands alone: no file in it (docs, code, comments, the template, CI) cites a
design document outside the repository, and every relative link of the docs points at a file that
exists in it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "layers" / "config" / "README.md"]
OUTSIDE = re.compile(r"\bDESIGN\b|\.\./shared/|/work/shared")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _param(path: Path) -> object:
    return pytest.param(path, id=str(path.relative_to(ROOT)))


def _tracked() -> list[Path]:
    """Every text file git tracks (this test's own pattern aside)."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    paths = [ROOT / name for name in listed.stdout.splitlines()]
    return [p for p in paths if p.is_file() and p != Path(__file__).resolve() and _is_text(p)]


def _is_text(path: Path) -> bool:
    try:
        path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return False
    return True


def test_no_file_points_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _tracked()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []


@pytest.mark.parametrize("path", [_param(p) for p in DOCS])
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:|#", target):
            continue  # a URL or an anchor on the same page
        file = target.split("#", 1)[0]
        resolved = ROOT / file.lstrip("/") if file.startswith("/") else path.parent / file
        if not resolved.resolve().is_relative_to(ROOT) or not resolved.exists():
            broken.append(target)
    assert broken == []
