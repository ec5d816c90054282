"""Bash rules: patterns, compound commands split by tree-sitter-bash, wrappers, redirections."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jshost.permissions import Policy, parse_cli_rules, parse_rule
from jshost.permissions.bash import (
    MAX_COMMAND_CHARS,
    bash_pattern_matches,
    split_command,
    wildcard_match,
)
from jshost.tools.base import Workspace


def decide(policy: Policy, command: str, tmp: Path) -> str:
    return policy.decide(
        "Bash", {"command": command}, kind="exec", command=command, workspace=Workspace(tmp)
    ).behavior


def allowing(*rules: str, deny: tuple[str, ...] = ()) -> Policy:
    return Policy(
        allow=parse_cli_rules(rules, "--allowed-tools"),
        deny=parse_cli_rules(deny, "--disallowed-tools"),
    )


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("npm run build", "npm run build", True),
        ("npm run build", "npm run build --prod", False),
        ("npm run *", "npm run build", True),
        ("npm run *", "npm run", True),  # the word boundary admits the bare command
        ("npm run *", "npm runx", False),
        ("npm*", "npmx", True),
        ("npm*", "npm install", True),
        ("git * main", "git push origin main", True),
        ("git * main", "git push origin dev", False),
        ("* --version", "node --version", True),
        ("* --version", "node --help", False),
        ("ls   -la", "ls -la", True),  # spaces in a rule are not significant
        ("*", "anything at all", True),
    ],
)
def test_bash_patterns(pattern, text, expected):
    assert bash_pattern_matches(pattern, text) is expected


def test_wildcard_match_is_not_exponential():
    pattern = "*a" * 30 + "*b"
    text = "a" * 5000
    started = time.perf_counter()
    assert wildcard_match(pattern, text) is False
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    ("command", "texts"),
    [
        ("git log | head", ["git log", "head"]),
        ("a; b && c || d", ["a", "b", "c", "d"]),
        ("a |& b & c", ["a", "b", "c"]),
        ("a\nb", ["a", "b"]),
        ("(cd sub; make)", ["cd sub", "make"]),
        ("echo $(rm -rf /)", ["echo $(rm -rf /)", "rm -rf /"]),
        ("echo `id`", ["echo `id`", "id"]),
        ('echo "$(whoami)"', ['echo "$(whoami)"', "whoami"]),
        ("echo '$(not run)'", ["echo '$(not run)'"]),
        ("cat <(curl x)", ["cat <(curl x)", "curl x"]),
        ("cat <<EOF\n$(rm x)\nEOF", ["cat", "rm x"]),
        ("for f in *; do rm $f; done", ["rm $f"]),
        ("f() { rm -rf /; }; f", ["rm -rf /", "f"]),
        ("X=$(curl evil)", ["X=$(curl evil)", "curl evil"]),
        ("export PATH=/tmp/evil; git log", ["export PATH=/tmp/evil", "git log"]),
        ("! grep x f", ["grep x f"]),
        ("echo hi # ; rm -rf /", ["echo hi"]),
        ("git   log    -5", ["git log -5"]),
    ],
)
def test_split(command, texts):
    split = split_command(command)
    assert split.complete
    assert [p.text for p in split.parts] == texts


@pytest.mark.parametrize(
    ("command", "text"),
    [
        ("timeout 10 git log", "git log"),
        ("timeout -s KILL --preserve-status 5m git log", "git log"),
        ("nice -n 5 git log", "git log"),
        ("nice git log", "git log"),
        ("nohup git log", "git log"),
        ("time git log", "git log"),
        ("env A=1 B=2 git log", "git log"),
        ("A=1 git log", "git log"),
        ("timeout 5 nice nohup env A=1 git log", "git log"),
        # assignments that change what runs are kept, so a `git log` rule does not match
        ("LD_PRELOAD=/tmp/x.so git log", "LD_PRELOAD=/tmp/x.so git log"),
        ("env PATH=/tmp/evil git log", "env PATH=/tmp/evil git log"),
        ("GIT_SSH_COMMAND=x git log", "GIT_SSH_COMMAND=x git log"),
        ("timeout --weird 5 git log", "timeout --weird 5 git log"),
        ("timeout git log", "timeout git log"),
        ("nohup", "nohup"),
    ],
)
def test_wrappers(command, text):
    assert [p.text for p in split_command(command).parts] == [text]


@pytest.mark.parametrize("command", ["echo (", "if then fi", "echo $(", "a &&", "x\0y"])
def test_unparseable_is_incomplete(command):
    assert split_command(command).complete is False


def test_too_long_is_incomplete():
    assert split_command("echo " + "x" * MAX_COMMAND_CHARS).complete is False


@pytest.mark.parametrize(
    "command",
    [
        "echo x; rm -rf /",
        "echo x && rm -rf /",
        "echo x || rm -rf /",
        "echo x | sh",
        "echo x |& sh",
        "echo x & rm -rf /",
        "echo x\nrm -rf /",
        "echo $(rm -rf /)",
        "echo `rm -rf /`",
        'echo "$(rm -rf /)"',
        "(rm -rf /)",
        "echo <(rm -rf /)",
        "echo x > ~/.bashrc",
        "echo x >> /etc/passwd",
        "echo x &> out",
        "echo (",
        "LD_PRELOAD=/tmp/x.so echo x",
    ],
)
def test_an_echo_rule_allows_no_more_than_echo(command, tmp_path):
    policy = allowing("Bash(echo:*)")
    assert decide(policy, command, tmp_path) == "ask"


@pytest.mark.parametrize(
    "command",
    [
        "echo x",
        "echo",
        "echo x; echo y",
        "echo a | echo b",
        "echo x 2>&1",
        "echo x > /dev/null",
        "timeout 5 echo x",
        "NO_COLOR=1 echo x",
    ],
)
def test_an_echo_rule_allows_echo(command, tmp_path):
    assert decide(allowing("Bash(echo:*)"), command, tmp_path) == "allow"


def test_compound_needs_every_part_allowed(tmp_path):
    policy = allowing("Bash(git log *)", "Bash(head *)")
    assert decide(policy, "git log --oneline | head -5", tmp_path) == "allow"
    assert decide(policy, "git log --oneline | tail -5", tmp_path) == "ask"


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf /",
        "ls; rm -rf /",
        "ls && rm -rf x",
        "echo $(rm -rf /)",
        "echo `rm x`",
        "timeout 5 rm x",
        "nohup nice rm x",
        "rm  -rf   x",
        '"rm" -rf x',
        "r\\m -rf x",
        "'rm' x",
        "LD_PRELOAD=y rm x",
        "rm x > out",
        "echo ( ; rm x",  # unparseable: the whole text is still checked
    ],
)
def test_a_deny_rule_matches_any_part(command, tmp_path):
    policy = allowing("Bash", deny=("Bash(rm *)",))
    assert decide(policy, command, tmp_path) == "deny"
    assert decide(policy, "ls -la", tmp_path) == "allow"


def test_redirection_needs_a_rule_that_names_it(tmp_path):
    policy = allowing("Bash(ls * > listing.txt)")
    assert decide(policy, "ls -la > listing.txt", tmp_path) == "allow"
    assert decide(policy, "ls -la > other.txt", tmp_path) == "ask"


def test_bare_bash_allows_any_command_even_unparseable(tmp_path):
    assert decide(allowing("Bash"), "echo (", tmp_path) == "allow"


def test_exact_rule(tmp_path):
    policy = allowing("Bash(npm run build)")
    assert decide(policy, "npm run build", tmp_path) == "allow"
    assert decide(policy, "npm run build && npm publish", tmp_path) == "ask"


def test_legacy_prefix_and_word_boundary(tmp_path):
    assert decide(allowing("Bash(npm:*)"), "npm", tmp_path) == "allow"
    assert decide(allowing("Bash(npm:*)"), "npmx install", tmp_path) == "ask"
    assert decide(allowing("Bash(npm*)"), "npmx install", tmp_path) == "allow"


def test_suggestions_name_the_first_words(tmp_path):
    policy = allowing("Bash(git log *)")
    ws = Workspace(tmp_path)

    def suggestion(command: str) -> str | None:
        return policy.decide("Bash", {}, kind="exec", command=command, workspace=ws).suggestion

    assert suggestion("git status --short") == "Bash(git status *)"
    assert suggestion("git log | wc -l") == "Bash(wc *)"
    assert suggestion("ls -la sub") == "Bash(ls *)"
    assert suggestion("ls -la /tmp") == "Bash(ls -la /tmp)"  # a path outside: spelled out
    assert suggestion("./build.sh --fast") == "Bash(./build.sh *)"
    assert suggestion("echo x > out.txt") == "Bash(echo x > out.txt)"
    assert suggestion("echo (") is None
    # a suggestion, once added, allows the call
    policy.allow_for_run(suggestion("git status --short") or "")
    assert decide(policy, "git status --short", tmp_path) == "allow"


def test_clamp_pattern_rule_parses():
    assert parse_rule("Bash(git:*)", "s").specifier == "git *"


@pytest.mark.parametrize(
    "command",
    [
        "sudo -u root rm -rf x",
        "command rm x",
        "exec rm x",
        "/usr/bin/env rm x",
        "xargs -0 rm < list",
        "bash -c 'rm -rf /'",
        'sh -c "ls; rm x"',
        "/bin/bash -lc 'rm x'",
        "eval rm x",
        "eval 'ls && rm x'",
        "cat <<< $(rm x)",
        "echo $(( $(rm x) ))",
        "echo ${X:-$(rm x)}",
        "coproc rm x",
        "echo >(rm x)",
    ],
)
def test_a_deny_rule_sees_through_launchers_and_shells(command, tmp_path):
    policy = allowing("Bash", deny=("Bash(rm *)",))
    assert decide(policy, command, tmp_path) == "deny"


@pytest.mark.parametrize(
    "command",
    [
        "cat <<< $(rm x)",
        "echo $(( $(rm x) ))",
        "echo ${X:-$(rm x)}",
        "echo >(rm x)",
        "eval rm x",
        "bash -c 'echo x'",
    ],
)
def test_an_echo_rule_does_not_allow_hidden_commands(command, tmp_path):
    assert decide(allowing("Bash(echo:*)", "Bash(cat *)"), command, tmp_path) == "ask"


@pytest.mark.parametrize(
    "command",
    [
        "ls;" * 30_000,
        "a $(" * 12_000 + ")" * 12_000,
        'a "$(' * 8_000 + ')"' * 8_000,
        "ls " + "x" * 99_000,
        "echo '" + "a " * 40_000 + "'",
        "f() { " * 900 + "x" + "; }" * 900,
        ("ls " + "a " * 250 + ";") * 190,  # 47,500 arguments, each a path to look up
        ("ls " + "/x/y " * 250 + ";") * 75,
    ],
)
def test_hostile_commands_are_checked_quickly(command, tmp_path):
    policy = allowing(
        *(f"Bash({r})" for r in ("git log *", "ls *", "a *", "* --version", "git * main")),
        deny=("Bash(rm *)", "Bash(curl *)", "Bash(* | sh)", "Bash(*a*a*a*a*b)"),
    )
    started = time.perf_counter()
    decide(policy, command, tmp_path)
    assert time.perf_counter() - started < 1.0


_SHELL = st.sampled_from(
    [
        *"ab $`'\"\\;|&()<>{}[]*!#=\n\t-",
        "rm",
        "echo",
        "$(",
        "<<EOF\n",
        "\nEOF\n",
        "bash -c ",
        "sudo ",
        "{",
        "1..",
        "\u00e9",
        "\U00031860",
        "\U0001f600",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(_SHELL, max_size=40).map("".join)))
def test_any_command_gets_a_decision_and_rm_is_never_allowed_by_an_echo_rule(command):
    policy = allowing("Bash(echo:*)", deny=("Bash(rm *)",))
    d = policy.decide("Bash", {}, kind="exec", command=command, workspace=Workspace(Path("/w")))
    assert d.behavior in ("allow", "ask", "deny")
    split = split_command(command)
    if d.behavior == "allow":
        # allowed: it parsed, and every command it runs is an echo
        assert split.complete
        assert all(p.text == "echo" or p.text.startswith("echo ") for p in split.parts)


_CRASHER = """
import sys
from jshost.permissions.bash import split_command
for cp in range(0x100 + int(sys.argv[1]), 0x110000, 37):
    if not 0xD800 <= cp < 0xE000:
        split_command("{" + chr(cp))
        split_command("a {1.." + chr(cp) + "}")
"""


@pytest.mark.parametrize("offset", [0, 12, 25])
def test_a_brace_before_a_wide_character_does_not_crash_the_process(offset):
    # tree-sitter-bash 0.25 reads past the C library's isdigit() table for the character
    # after `{` (tree-sitter-bash#337): without the guard, 8 in 10 of these processes died
    # of SIGSEGV, depending on where ASLR put the table. A fresh process each, so the
    # layout varies as it did in CI.
    done = subprocess.run(
        [sys.executable, "-c", _CRASHER, str(offset)], capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def test_texts_are_the_commands_own_where_the_parser_read_a_guarded_copy(tmp_path):
    split = split_command("cat {\U00031860,b} {1..\u00e9\u00e9} && rm -rf {\U0001f600}")
    assert split.complete
    assert [p.text for p in split.parts] == [
        "cat {\U00031860,b} {1..\u00e9\u00e9}",
        "rm -rf {\U0001f600}",
    ]
    # the path check reads the real name: a link in the workspace to a file outside
    (tmp_path / "outside").mkdir()
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "\U00031860").symlink_to(tmp_path / "outside")
    policy = allowing("Bash(cat *)")
    assert decide(policy, "cat {\U00031860,b}", ws) != "allow"
    assert decide(policy, "cat {b,c}", ws) == "allow"


def test_a_lone_surrogate_is_a_command_no_rule_allows():
    # JSON lets a model send "\\ud800"; it cannot be encoded for a shell.
    split = split_command("echo \ud800")
    assert not split.complete and split.parts == ()
    assert decide(allowing("Bash(echo *)"), "echo \ud800", Path("/w")) == "ask"
    # what it runs is unknown, so a deny rule cannot be ruled out (as for any unparsed command)
    policy = allowing("Bash(echo *)", deny=("Bash(rm *)",))
    assert decide(policy, "echo \ud800", Path("/w")) == "deny"


# ---- paths a command names -------------------------------------------------------------------


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = (tmp_path / "ws").resolve()
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.py").write_text("x")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("s")
    (root / "out").symlink_to(tmp_path / "outside")
    (root / "inlink").symlink_to(root / "src")
    return root


@pytest.mark.parametrize(
    "command",
    [
        "cat src/a.py",
        "cat ./src/a.py src/*.py",
        "cat a.py 2>/dev/null",
        "cat inlink/a.py",
        "grep -rn --include=*.py foo src",
        "cat -- src/a.py",
        "cat s/a/b",  # a relative path that does not exist is still the workspace's
    ],
)
def test_commands_on_paths_inside_are_allowed(ws, command):
    assert decide(allowing("Bash(cat *)", "Bash(grep *)"), command, ws) == "allow"


@pytest.mark.parametrize(
    "command",
    [
        "cat /etc/passwd",
        "cat ../x",
        "cat src/../../x",
        "cat ~/.ssh/id_rsa",
        "cat ~root/.bashrc",
        "cat out/secret",  # a link out of the workspace
        "cat out",
        "cat < /etc/passwd",
        "cat $HOME/.ssh/id_rsa",
        '"cat" "$F"',
        "cat $(echo /etc/passwd)",
        "grep --file=/etc/shadow x",
        "grep -f/etc/shadow x",
        "cat -- /etc/passwd",
        "cat src/a.py > /tmp/x",
    ],
)
def test_commands_naming_paths_outside_ask(ws, command):
    policy = allowing("Bash(cat *)", "Bash(grep *)", "Bash(echo *)", "Bash(cat * > *)")
    d = policy.decide("Bash", {}, kind="exec", command=command, workspace=Workspace(ws))
    assert d.behavior == "ask", command
    assert "outside the workspace" in d.reason or "redirection" in d.reason


def test_a_rule_that_spells_the_path_out_allows_it(ws):
    assert decide(allowing("Bash(cat /etc/hostname)"), "cat /etc/hostname", ws) == "allow"
    assert decide(allowing("Bash(cat /etc/*)"), "cat /etc/hostname", ws) == "allow"
    assert decide(allowing("Bash(cat /etc/*)"), "cat /var/log/syslog", ws) == "ask"
    assert decide(allowing("Bash(curl *)"), "curl -s https://example.com/x", ws) == "allow"
    # a bare Bash rule allows any command, paths and all
    assert decide(allowing("Bash"), "cat /etc/passwd", ws) == "allow"


def test_extra_dirs_count_as_inside(ws, tmp_path):
    policy = Policy(
        allow=parse_cli_rules(["Bash(cat *)"], "--allowed-tools"),
        extra_dirs=[(tmp_path / "outside").resolve()],
    )
    assert decide(policy, "cat out/secret", ws) == "allow"
    assert decide(policy, f"cat {tmp_path / 'outside' / 'secret'}", ws) == "allow"


def test_too_many_arguments_are_not_checked_one_by_one(ws):
    many = "cat " + " ".join(f"f{i}" for i in range(400))
    assert decide(allowing("Bash(cat *)"), many, ws) == "ask"
    assert decide(allowing("Bash(cat *)"), "cat " + " ".join(["f"] * 200), ws) == "allow"
