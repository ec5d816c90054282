"""Print the installed version of every dependency pyproject.toml names (CI's log shows which
versions the fresh virtualenv resolved); a dependency that is not installed shows as '-'."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

project = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"]
specs = list(project["dependencies"])
for extra in project.get("optional-dependencies", {}).values():
    specs += extra
seen: set[str] = set()
for spec in specs:
    name = re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0]
    if name in seen:  # named by two extras (claude-code, and test which carries it)
        continue
    seen.add(name)
    try:
        found = version(name)
    except PackageNotFoundError:
        found = "-"
    print(f"  {name:24} {found:12} (allowed: {spec[len(name) :] or 'any'})")
