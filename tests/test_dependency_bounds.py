"""pyproject.toml's dependency ranges stay honest: a lower bound that .ci/lower-bounds.txt
pins (so it can be tested: `bash .ci/lower-bounds`), and an upper bound below the next major
release, so that a new major reaches users only after it has passed CI here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    return [Requirement(s) for s in specs]


def pinned() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / ".ci" / "lower-bounds.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", line
            assert req.name not in pins, f"{req.name} pinned twice"
            pins[req.name] = Version(spec.version)
    return pins


def bounds(req: Requirement) -> tuple[Version, Version]:
    lower = [Version(s.version) for s in req.specifier if s.operator == ">="]
    upper = [Version(s.version) for s in req.specifier if s.operator == "<"]
    assert len(lower) == 1 and len(upper) == 1, f"{req}: needs one >= and one < bound"
    return lower[0], upper[0]


def test_every_dependency_has_a_lower_bound_and_one_below_the_next_major():
    for req in requirements():
        lower, upper = bounds(req)
        assert lower < upper, req
        # A major release (for 0.x, the next minor or 1), and no further than the major after
        # the lower bound's: the two ends are the versions tested.
        is_major = len(upper.release) == 1 or (upper.major == 0 and len(upper.release) == 2)
        assert is_major, f"{req}: the upper bound is not a major release"
        assert upper <= Version(f"{lower.major + 2}"), f"{req}: the range spans untested majors"


def test_lower_bounds_file_pins_exactly_the_lower_bounds():
    pins = pinned()
    reqs = {req.name: req for req in requirements()}
    assert set(pins) == set(reqs), "lower-bounds.txt and pyproject.toml name other packages"
    for name, version in pins.items():
        lower, _ = bounds(reqs[name])
        assert reqs[name].specifier.contains(version), f"{name}=={version} is out of range"
        # The lowest release of the lower bound's series (0.17 → 0.17.0.1 when 0.17.0 is none).
        assert version.release[: len(lower.release)] == lower.release, (name, version, lower)
