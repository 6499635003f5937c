"""Shared helpers of the Python package's tests: the repository, the `tuneprint` binary built
from it (the CLI the package must agree with) and a runner for it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIPS = ROOT / "audio"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BIN = Path(os.environ.get("TUNEPRINT_BIN", ROOT / "target" / "release" / "tuneprint"))


def cli(*args: Any, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs the tuneprint binary; fails the test when it exits non-zero and `check` is set."""
    if not BIN.is_file():
        pytest.fail(f"no tuneprint binary at {BIN}: build it (scripts/setup.sh) or set TUNEPRINT_BIN")
    p = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        pytest.fail(f"tuneprint {' '.join(map(str, args))} exited {p.returncode}: {p.stderr}")
    return p


def cli_json(*args: Any) -> Any:
    return json.loads(cli(*args, "--json").stdout)


@pytest.fixture
def clips(tmp_path: Path) -> Path:
    """A folder with copies of the committed WAV clips (the AU duplicate of blues left out)."""
    d = tmp_path / "clips"
    d.mkdir()
    for f in sorted(CLIPS.glob("*.wav")):
        shutil.copy(f, d / f.name)
    return d


def wav_clips() -> List[Path]:
    return sorted(CLIPS.glob("*.wav"))
