"""The built wheel is a working install: runtime.js, which lives at the repository root, ships
inside the package, and the installed package finds it there (not in this checkout)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder
from procs import finish, jshost

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "hello.js"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # hatchling's own API, offline: the same build `pip wheel .` runs, without a build frontend.
    return Path(next(WheelBuilder(str(ROOT)).build(directory=str(out), versions=["standard"])))


def test_wheel_carries_runtime_js_inside_the_package(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "jshost/runtime.js" in names
        assert zf.read("jshost/runtime.js") == (ROOT / "runtime.js").read_bytes()
        assert "runtime.js" not in names  # not at the top of site-packages


def test_installed_wheel_runs_a_script_with_its_own_runtime_js(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    env = {"PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import jshost; print(jshost.__file__)"],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert Path(where.stdout.strip()).parent == site / "jshost", where.stderr
    assert not (site / "runtime.js").exists()  # only the packaged copy can be the one found

    code, out, err = finish(
        jshost(tmp_path / "home", "run", str(SAMPLE), "--yes", env=env, cwd=tmp_path)
    )
    assert code == 0, err
    assert "completed" in out + err
