"""MCP config files: Claude Code's .mcp.json format, ${VAR} expansion, checks, approval."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from jshost.store import Store
from jshost.tools.mcp_config import (
    McpConfigError,
    approval_key,
    approve,
    changed_since_approval,
    expand_vars,
    left_out_message,
    load_config_file,
    load_config_text,
    load_mcp_configs,
    pending_approval,
)

ENV = {"HOME": "/home/u", "TOKEN": "t0k", "EMPTY": ""}


def write(path: Path, data: object) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


# ---- expansion -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("${HOME}/logs", "/home/u/logs"),
        ("${NOPE}", "${NOPE}"),  # unset: stays as written
        ("${NOPE:-fallback}", "fallback"),
        ("${TOKEN:-fallback}", "t0k"),
        ("${EMPTY:-fallback}", "fallback"),  # empty counts as unset with :-, as in a shell
        ("${EMPTY}", ""),
        ("$HOME and $TOKEN", "$HOME and $TOKEN"),  # the bare form never expands
        ("${HOME}${TOKEN}", "/home/ut0k"),
        ("${NOPE:-}", ""),
        ("${1BAD}", "${1BAD}"),
    ],
)
def test_expansion_forms(text, expanded):
    assert expand_vars(text, ENV) == expanded


def test_expansion_applies_to_command_args_env_url_and_headers_only(tmp_path):
    cfg = {
        "mcpServers": {
            "${TOKEN}": {
                "command": "${HOME}/bin/srv",
                "args": ["--token", "${TOKEN}", "$TOKEN", "${NOPE:-d}"],
                "env": {"KEY_${TOKEN}": "${TOKEN}", "LIT": "${NOPE}"},
            },
            "web": {"type": "http", "url": "https://h/${TOKEN}", "headers": {"A": "B ${TOKEN}"}},
        }
    }
    file = load_config_file(write(tmp_path / "c.json", cfg), environ=ENV)
    stdio, web = file.servers
    assert stdio.name == "${TOKEN}"  # names are not expanded
    assert stdio.command == "/home/u/bin/srv"
    assert stdio.args == ("--token", "t0k", "$TOKEN", "d")
    assert dict(stdio.env) == {"KEY_${TOKEN}": "t0k", "LIT": "${NOPE}"}  # keys are not
    assert stdio.type == "stdio"
    assert (web.type, web.url, dict(web.headers)) == ("http", "https://h/t0k", {"A": "B t0k"})


# ---- loading -------------------------------------------------------------------------------


def test_project_file_then_mcp_config_files_and_inline_json(tmp_path):
    raw = json.dumps({"mcpServers": {"logs": {"command": "srv", "args": ["a"]}}})
    (tmp_path / ".mcp.json").write_text(raw)
    other = write(tmp_path / "more.json", {"mcpServers": {"db": {"command": "db-srv"}}})
    configs = load_mcp_configs(
        tmp_path,
        [str(other), '{"mcpServers": {"logs": {"command": "mine"}}}'],
        environ={},
    )
    project, named, inline = configs.files
    assert project.project and not named.project and not inline.project
    assert project.origin == str((tmp_path / ".mcp.json").resolve())
    assert project.sha256 == hashlib.sha256(raw.encode()).hexdigest()
    assert inline.origin == "--mcp-config"
    # a later file's server of the same name replaces the earlier one
    assert [(s.name, s.command) for s in configs.servers()] == [("db", "db-srv"), ("logs", "mine")]
    assert [s.name for s in configs.servers(leave_out=[project])] == ["db", "logs"]
    lines = configs.describe(leave_out=[project])
    assert lines[0].endswith("(project file, 1 server, not approved: left out)")
    assert "  logs: srv a" in lines


def test_no_project_file_is_no_config(tmp_path):
    assert load_mcp_configs(tmp_path, environ={}).files == ()
    assert load_mcp_configs(tmp_path, environ={}).servers() == []


def test_a_json_syntax_error_names_file_line_and_column(tmp_path):
    path = write(tmp_path / ".mcp.json", '{\n  "mcpServers": {\n    "a": {"command": "x",}\n  }\n}')
    with pytest.raises(McpConfigError) as err:
        load_config_file(path)
    assert str(err.value).startswith(f"{path.resolve()}:3:26: not valid JSON:")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], 'expected an object {"mcpServers": {...}}, got an array'),
        ({"servers": {}}, 'no "mcpServers" object'),
        ({"mcpServers": []}, '"mcpServers" must be an object, got an array'),
        ({"mcpServers": {"a": "srv"}}, 'server "a": must be an object, got a string'),
        ({"mcpServers": {"a": {}}}, 'server "a": "command" must be a non-empty string (missing)'),
        ({"mcpServers": {"a": {"command": " "}}}, '"command" must be a non-empty string (empty)'),
        ({"mcpServers": {"a": {"command": 3}}}, '"command" must be a non-empty string (a number)'),
        ({"mcpServers": {"a": {"command": "x", "args": "y"}}}, '"args" must be an array of'),
        ({"mcpServers": {"a": {"command": "x", "args": [1]}}}, '"args" must be an array of'),
        ({"mcpServers": {"a": {"command": "x", "env": {"K": 1}}}}, '"env" must be an object of'),
        ({"mcpServers": {"a": {"type": "ws", "url": "x"}}}, 'unknown "type" "ws"; expected'),
        ({"mcpServers": {"a": {"url": "https://x"}}}, 'has a "url" but no "type": say "http" or'),
        ({"mcpServers": {"a": {"type": "http"}}}, '"url" must be a non-empty string (missing)'),
        ({"mcpServers": {"a": {"type": "sse", "url": "ftp://x"}}}, '"url" must start with http'),
        ({"mcpServers": {"a": {"type": "http", "url": "http://x", "headers": []}}}, '"headers"'),
        ({"mcpServers": {"": {"command": "x"}}}, "a server has an empty name"),
        ({"mcpServers": {"a.b": {"command": "x"}, "a_b": {"command": "y"}}}, "same tool names"),
    ],
)
def test_bad_shapes_name_the_file_and_the_server(tmp_path, data, message):
    path = write(tmp_path / "cfg.json", data)
    with pytest.raises(McpConfigError) as err:
        load_config_file(path)
    text = str(err.value)
    assert text.startswith(str(path.resolve()) + ":"), text
    assert message in text, text


def test_missing_file_and_not_utf8_and_inline_errors(tmp_path):
    with pytest.raises(McpConfigError, match=r"nope\.json: no such MCP config file"):
        load_mcp_configs(tmp_path, [str(tmp_path / "nope.json")])
    (tmp_path / ".mcp.json").write_bytes(b'{"mcpServers": {"\xff": 1}}')
    with pytest.raises(McpConfigError, match=r"\.mcp\.json: not UTF-8 text"):
        load_mcp_configs(tmp_path)
    with pytest.raises(McpConfigError, match=r"^--mcp-config:1:\d+: not valid JSON"):
        load_config_text("{nope", origin="--mcp-config")
    with pytest.raises(McpConfigError, match="is a directory"):
        load_config_file(tmp_path)


def test_control_characters_in_names_never_reach_the_message_raw(tmp_path):
    path = write(tmp_path / "c.json", {"mcpServers": {"a\x1b[2J": 5}})
    with pytest.raises(McpConfigError) as err:
        load_config_file(path)
    assert "\x1b" not in str(err.value)


# ---- approval ------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("JSHOST_HOME", str(tmp_path / "home"))
    with Store() as s:
        yield s


def test_project_file_needs_approval_remembered_per_sha256(tmp_path, store):
    ws = tmp_path / "ws"
    ws.mkdir()
    write(ws / ".mcp.json", {"mcpServers": {"logs": {"command": "srv"}}})
    named = write(tmp_path / "named.json", {"mcpServers": {"db": {"command": "db"}}})
    configs = load_mcp_configs(ws, [str(named)], environ={})
    project = configs.files[0]
    # unapproved: only the project file waits; a named file is approved by being named
    assert pending_approval(configs, store) == [project]
    assert pending_approval(configs, None) == [project]
    assert not changed_since_approval(project, store)
    line = left_out_message(project)
    assert "MCP servers logs from" in line and "were left out: it is not approved" in line
    assert "--mcp-config" in line and "don't ask again" in line

    approve([project], store)
    assert store.is_approved(approval_key(project), project.sha256)
    assert pending_approval(load_mcp_configs(ws, [str(named)], environ={}), store) == []
    # the approval of the config is not an approval of a script at that path
    assert not store.is_approved(project.origin, project.sha256)

    # a changed file asks again, and says it changed
    write(ws / ".mcp.json", {"mcpServers": {"logs": {"command": "srv", "args": ["--evil"]}}})
    changed = load_mcp_configs(ws, environ={})
    assert pending_approval(changed, store) == [changed.files[0]]
    assert changed_since_approval(changed.files[0], store)
    assert "it changed since it was approved" in left_out_message(changed.files[0], changed=True)


def test_an_empty_project_file_needs_no_approval(tmp_path, store):
    write(tmp_path / ".mcp.json", {"mcpServers": {}})
    assert pending_approval(load_mcp_configs(tmp_path, environ={}), store) == []
