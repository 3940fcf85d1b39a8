"""The type stubs, checked by mypy: typical uses pass, misuses are caught."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent / "typing"


def mypy(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--show-error-codes",
         "--python-version", f"{sys.version_info.major}.{sys.version_info.minor}", str(path)],
        capture_output=True,
        text=True,
        cwd=HERE,
    )


def test_typical_uses_type_check() -> None:
    result = mypy(HERE / "uses.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_misuses_are_rejected_with_the_expected_errors() -> None:
    source = (HERE / "misuses.py").read_text().splitlines()
    expected = {
        i + 1: m.group(1)
        for i, line in enumerate(source)
        if (m := re.search(r"# E: ([a-z-]+)$", line))
    }
    result = mypy(HERE / "misuses.py")
    got: dict[int, set[str]] = {}
    for line in result.stdout.splitlines():
        m = re.match(r".*misuses\.py:(\d+): error: .*\[([a-z-]+)\]$", line)
        if m:
            got.setdefault(int(m.group(1)), set()).add(m.group(2))
    assert len(expected) == 7
    for lineno, code in expected.items():
        assert code in got.get(lineno, set()), (lineno, code, result.stdout)
    assert set(got) == set(expected), result.stdout
