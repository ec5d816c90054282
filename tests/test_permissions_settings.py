"""Settings files: where rules come from, their precedence, and clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jshost.permissions import Policy, PolicyError, RuleError, SettingsError, load_settings
from jshost.tools.base import Workspace


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    ws, home = tmp_path / "ws", tmp_path / "home"
    (ws / ".claude").mkdir(parents=True)
    (home / ".claude").mkdir(parents=True)
    return ws.resolve(), home.resolve()


def write(path: Path, doc: object) -> Path:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
    return path


def test_no_files_no_rules(dirs):
    ws, home = dirs
    s = load_settings(ws, home)
    assert (s.files, s.allow, s.deny, s.ask, s.default_mode) == ((), (), (), (), None)


def test_three_files_in_precedence_order(dirs):
    ws, home = dirs
    write(ws / ".claude" / "settings.local.json", {"permissions": {"allow": ["Bash(make *)"]}})
    write(
        ws / ".claude" / "settings.json",
        {
            "permissions": {
                "allow": ["Bash(npm run *)"],
                "deny": ["Read(./.env)"],
                "defaultMode": "acceptEdits",
                "additionalDirectories": ["../shared"],
            },
            "model": "ignored",
            "hooks": {"whatever": True},
        },
    )
    write(
        home / ".claude" / "settings.json",
        {"permissions": {"allow": ["Bash"], "ask": ["Bash(git push *)"], "defaultMode": "plan"}},
    )
    s = load_settings(Workspace(ws), home)
    assert [r.text for r in s.allow] == ["Bash(make *)", "Bash(npm run *)", "Bash"]
    assert s.allow[0].source.endswith("settings.local.json permissions.allow[0]")
    assert [r.text for r in s.deny] == ["Read(./.env)"]
    assert [r.text for r in s.ask] == ["Bash(git push *)"]
    assert s.default_mode == "acceptEdits"  # the project's beats the user's
    assert s.default_mode_source.endswith(".claude/settings.json permissions.defaultMode")
    assert s.additional_directories == ((ws.parent / "shared").resolve(),)

    policy = Policy.from_settings(s, home=home)
    assert policy.mode == "acceptEdits"
    wsp = Workspace(ws)
    d = policy.decide("Bash", {}, kind="exec", command="make all", workspace=wsp)
    assert d.behavior == "allow" and d.source.endswith("settings.local.json permissions.allow[0]")
    assert (
        policy.decide("Bash", {}, kind="exec", command="git push", workspace=wsp).behavior == "ask"
    )
    # the project's extra directory is readable
    extra = (ws.parent / "shared" / "f").resolve()
    assert policy.decide("Read", {}, kind="read", paths=[extra], workspace=wsp).behavior == "allow"


def test_cli_rules_and_mode_come_first(dirs):
    ws, home = dirs
    write(
        ws / ".claude" / "settings.json",
        {"permissions": {"allow": ["Bash(git *)"], "defaultMode": "plan"}},
    )
    s = load_settings(ws, home)
    policy = Policy.from_settings(
        s,
        allowed=["Bash(git log:*) Read(//etc/hostname)"],
        disallowed=["Bash(git push:*)", "Edit"],
        mode="default",
        home=home,
    )
    assert policy.mode == "default"
    wsp = Workspace(ws)
    d = policy.decide("Bash", {}, kind="exec", command="git log", workspace=wsp)
    assert (d.rule, d.source) == ("Bash(git log:*)", "--allowed-tools")
    d = policy.decide("Bash", {}, kind="exec", command="git push", workspace=wsp)
    assert (d.behavior, d.source) == ("deny", "--disallowed-tools")
    assert (
        policy.decide("Bash", {}, kind="exec", command="git status", workspace=wsp).behavior
        == "allow"
    )
    with pytest.raises(RuleError, match="--allowed-tools 'Bash\\(git log': unbalanced"):
        Policy.from_settings(s, allowed=["Bash(git log"], home=home)


def test_bypass_in_settings_is_refused_naming_the_file(dirs):
    ws, home = dirs
    write(home / ".claude" / "settings.json", {"permissions": {"defaultMode": "bypassPermissions"}})
    s = load_settings(ws, home)
    with pytest.raises(
        PolicyError, match=r"home/\.claude/settings\.json permissions\.defaultMode: .*not offered"
    ):
        Policy.from_settings(s, home=home)
    # an explicit mode on the command line is honoured instead
    assert Policy.from_settings(s, mode="plan", home=home).mode == "plan"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"permissions": {"allow": ["Bash"],}}', r"json:1:36: not valid JSON: Expecting"),
        ('{\n  "permissions": \n}', r"settings\.json:3:1: not valid JSON"),
        ("[1, 2]", r"settings\.json: must hold a JSON object, got an array"),
        ('{"permissions": []}', r"'permissions' must be an object, got an array"),
        (
            '{"permissions": {"allow": "Bash"}}',
            r"'permissions\.allow' must be a list of rules, got a string",
        ),
        (
            '{"permissions": {"deny": [1]}}',
            r"permissions\.deny\[0\]: a rule must be a string, got a number",
        ),
        (
            '{"permissions": {"ask": ["Bash(git log"]}}',
            r"permissions\.ask\[0\] 'Bash\(git log': unbalanced parenthesis",
        ),
        ('{"permissions": {"defaultMode": 3}}', r"'permissions\.defaultMode' must be a string"),
        ('{"permissions": {"defaultMode": "yolo"}}', r"unknown permissions\.defaultMode 'yolo'"),
        (
            '{"permissions": {"additionalDirectories": "x"}}',
            r"additionalDirectories' must be a list of paths",
        ),
        (b"\xff\xfe{}", r"not UTF-8 text"),
    ],
)
def test_bad_files_are_clear_errors(dirs, text, expected):
    ws, home = dirs
    path = ws / ".claude" / "settings.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(SettingsError, match=expected) as info:
        load_settings(ws, home)
    assert str(path) in str(info.value)


def test_unknown_keys_and_empty_files_are_fine(dirs):
    ws, home = dirs
    write(ws / ".claude" / "settings.json", {"permissions": {"allow": [], "future": 1}, "env": {}})
    write(ws / ".claude" / "settings.local.json", "")
    assert load_settings(ws, home).allow == ()


def test_a_directory_in_place_of_a_file(dirs):
    ws, home = dirs
    (home / ".claude" / "settings.json").mkdir()
    with pytest.raises(SettingsError, match="is a directory"):
        load_settings(ws, home)


def test_workspace_is_home_reads_the_file_once(dirs):
    _, home = dirs
    write(home / ".claude" / "settings.json", {"permissions": {"allow": ["Read"]}})
    assert [r.text for r in load_settings(home, home).allow] == ["Read"]
