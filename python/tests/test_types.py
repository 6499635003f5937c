"""The package's annotations and the native module's stubs (_tuneprint.pyi) hold together."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

from conftest import ROOT


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One mypy cache for both checks (numpy's and pandas' stubs are read once)."""
    return str(tmp_path_factory.mktemp("mypy"))


def test_the_package_passes_mypy_strict(cache: str) -> None:
    out, err, status = api.run(["--strict", "--cache-dir", cache, str(ROOT / "python" / "tuneprint")])
    assert status == 0, out + err
    assert out.startswith("Success: no issues found in 3 source files"), out


def test_a_wrong_call_is_caught(cache: str, tmp_path: Path) -> None:
    # The installed wheel carries the stubs: a call the native module does not take fails.
    bad = tmp_path / "bad.py"
    bad.write_text("import tuneprint._tuneprint as t\nt.load('x.wav', 22050)\n")
    out, _, status = api.run(["--strict", "--cache-dir", cache, str(bad)])
    assert status == 1 and 'Missing positional arguments "mono", "offset", "duration"' in out, out
