"""Bash rules: a shell command split into the simple commands it runs, each matched alone.

``git log | head && rm -rf /`` runs three programs; an allow rule must match every one of
them, a deny rule any one. tree-sitter-bash finds them wherever they hide: lists, pipelines,
subshells, ``$(…)`` and backticks (in strings and here-documents too), process substitution,
loops, function bodies. A command it cannot parse (or too long to check) matches no allow
rule. Wrappers that only change how a program runs (``timeout``, ``nice``, ``nohup``,
``time``, ``env VAR=x``, a ``VAR=x`` prefix) are stripped before matching, except an
assignment that changes what runs (``LD_PRELOAD``, ``PATH``, ``GIT_SSH_COMMAND``…).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import final

from tree_sitter import Language, Node, Parser

from .expansion import braces, has_glob

__all__ = [
    "MAX_ARGS",
    "MAX_COMMAND_CHARS",
    "MAX_PARTS",
    "CommandSplit",
    "Part",
    "bash_pattern_matches",
    "split_command",
    "wildcard_match",
]

#: characters of a command the check reads; a longer one matches no allow rule
MAX_COMMAND_CHARS = 100_000
#: simple commands in one command the check reads; with more, it matches no allow rule
MAX_PARTS = 1000
#: arguments of one simple command checked for paths outside the workspace
MAX_ARGS = 256
_ESCAPE = re.compile(r"\\(.)", re.S)
_EXPANSIONS = frozenset(
    {
        "simple_expansion",
        "expansion",
        "command_substitution",
        "process_substitution",
        "arithmetic_expansion",
    }
)

# Programs that run their arguments as a command, changing only how (reference §3.3).
_WRAPPERS = frozenset({"timeout", "nice", "nohup", "time", "env"})
# Assignments that change which code runs or how the shell reads it: never stripped.
_RISKY_ENV = re.compile(
    r"^(LD_|DYLD_|GIT_|BASH|NODE_OPTIONS|PYTHON|PERL|RUBY|JAVA|NPM_CONFIG_|ZDOTDIR)"
    r"|PATH|OPT|COMMAND|PROMPT"
    r"|^(ENV|IFS|PS4|SHELLOPTS|PAGER|EDITOR|VISUAL|LESSOPEN|LESSCLOSE|HOME|SHELL|TMPDIR)$"
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DURATION = re.compile(r"\d+(\.\d+)?[smhd]?\Z")
# Programs that run another program, for deny rules only (see _strip_for_deny).
_LAUNCHERS = frozenset(
    {
        *_WRAPPERS,
        *("command", "builtin", "exec", "sudo", "doas", "xargs", "stdbuf", "setsid", "coproc"),
    }
)
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "fish"})
_WRITE_OPS = frozenset({">", ">>", "&>", "&>>", ">|", "<>"})
# Statements that are not a program run but still do something (set a variable that later
# commands use, test a file): each is a part of its own, so an allow rule must cover it.
_STATEMENTS = frozenset(
    {"declaration_command", "unset_command", "test_command", "variable_assignment"}
)
_SPLITTERS = frozenset({"command", *_STATEMENTS})


@final
@dataclass(frozen=True)
class Part:
    """One simple command.

    ``text`` is its words joined by single spaces, wrappers stripped, and the redirections
    that write files: what rules match.
    ``variants`` are other spellings a deny rule also tries (unstripped, unquoted).
    ``writes`` are the files its output redirections write (``/dev/null`` and ``2>&1`` aside).
    """

    text: str
    variants: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    #: command strings it hands to a shell (``bash -c``, ``eval``), split again for deny rules
    inner: tuple[str, ...] = ()
    #: its arguments and redirection targets (unquoted), each with whether the shell expands
    #: it (``$X``, ``$(…)``): what may name a path outside the workspace; at most
    #: MAX_ARGS + 1 (more: the check gives up)
    args: tuple[tuple[str, bool], ...] = ()
    #: the program it runs is computed by the shell (``$x -rf a``, ``$(echo rm)``, ``/bin/r?``):
    #: any deny or ask rule for a command may be about it
    opaque: bool = False


@final
@dataclass(frozen=True)
class CommandSplit:
    """A command's parts; ``complete`` is False when it could not be parsed or was too long."""

    command: str
    parts: tuple[Part, ...]
    complete: bool

    def spellings(self, depth: int = 0) -> list[str]:
        """Every spelling of every part, and the whole command: what a deny rule tries
        (with the commands handed to ``bash -c`` and ``eval``, two levels deep)."""
        found = [" ".join(self.command.split())]
        for p in self.parts:
            found.append(p.text)
            found.extend(p.variants)
            if depth < 2:
                for inner in p.inner:
                    found.extend(split_command(inner).spellings(depth + 1))
        return found


# tree-sitter-bash 0.25's scanner calls isdigit() on the character after `{` (and after
# `{1..`): above U+00FF that reads past the C library's table and can crash the process
# (tree-sitter-bash#337; about one command in two with `{` then a 4-byte character). The
# parser gets those characters as as many `x`s, so offsets hold; texts come from `src`.
_BRACE_SCAN = re.compile(rb"\{[0-9]*+(?:\.\.[0-9]*+)?+([\x80-\xff]++)")


def _as_ascii(m: re.Match[bytes]) -> bytes:
    return m[0][: m.start(1) - m.start()] + b"x" * len(m[1])


@functools.cache
def _parser() -> Parser:
    # Imported at the first Bash rule or command, not with the module: the engine and the
    # linter reach this package for every run, most of which never match a Bash rule.
    import tree_sitter_bash

    return Parser(Language(tree_sitter_bash.language()))


def _text(node: Node, src: bytes) -> str:
    # From the command's own bytes, not node.text: the parser may have read a guarded copy.
    return src[node.start_byte : node.end_byte].decode("utf-8", "surrogateescape")


def _unquoted(node: Node, src: bytes) -> str:
    """A word as the shell would see it when it holds no expansion (else as written)."""
    t = node.type
    if t == "command_name" and node.named_child_count == 1:
        return _unquoted(node.named_children[0], src)
    if t == "word":
        text = _text(node, src)
        return _ESCAPE.sub(r"\1", text) if "\\" in text else text
    if t == "raw_string":
        return _text(node, src)[1:-1]
    if t == "ansi_c_string":  # `$'…'`: with a backslash in it, _expands says so
        return _text(node, src)[2:-1]
    if t == "string" and all(c.type in ('"', "string_content") for c in node.children):
        return "".join(_text(c, src) for c in node.children if c.type == "string_content")
    if t == "concatenation":
        return "".join(_unquoted(c, src) for c in node.children)
    return _text(node, src)


def _strip_wrappers(words: list[str]) -> list[str]:
    """The words once wrappers are taken off; unchanged when a wrapper's options are unclear."""
    while words and words[0] in _WRAPPERS:
        rest = _after_wrapper(words)
        if not rest:
            break
        words = rest
    return words


def _after_wrapper(words: list[str]) -> list[str] | None:
    name, i = words[0], 1
    if name == "timeout":
        while i < len(words) and words[i].startswith("-"):
            w = words[i]
            if w in ("-s", "-k", "--signal", "--kill-after"):
                i += 2
            elif w.startswith(("--signal=", "--kill-after=")) or w in (
                "--preserve-status",
                "--foreground",
                "-v",
                "--verbose",
            ):
                i += 1
            else:
                return None
        if i >= len(words) or not _DURATION.match(words[i]):
            return None
        i += 1
    elif name == "nice":
        if i < len(words) and words[i] == "-n":
            i += 2
        elif i < len(words) and re.match(r"(-\d+|--adjustment=-?\d+)\Z", words[i]):
            i += 1
    elif name == "time":
        if i < len(words) and words[i] == "-p":
            i += 1
    elif name == "env":
        while i < len(words) and "=" in words[i]:
            var = words[i].split("=", 1)[0]
            if not _ENV_NAME.match(var) or _RISKY_ENV.search(var):
                return None
            i += 1
    return words[i:] if i < len(words) else None


def _redirect_target(node: Node, src: bytes) -> str | None:
    """The file an output redirection writes, or None (input, ``/dev/null``, ``2>&1``)."""
    op = next((c.type for c in node.children if not c.is_named), "")
    if op not in _WRITE_OPS:
        return None
    dest = node.child_by_field_name("destination")
    if dest is None or dest.type == "number":
        return None
    target = _unquoted(dest, src)
    return None if target in ("/dev/null", "") else target


def _command_part(node: Node, redirects: list[Node], src: bytes) -> Part:
    env: list[Node] = []
    words: list[Node] = []
    for child in node.children:
        if child.type == "variable_assignment" and not words:
            env.append(child)
        elif child.type == "file_redirect" or child.type == "heredoc_redirect":
            redirects.append(child)
        elif child.is_named and child.type != "comment":
            words.append(child)
    raw = [_text(w, src) for w in words]
    plain = [_unquoted(w, src) for w in words]
    env_raw = [_text(e, src) for e in env]
    risky = any(_RISKY_ENV.search(_text(e, src).split("=", 1)[0]) for e in env)
    base = env_raw + raw if risky else raw
    text = " ".join(_strip_wrappers(base) if not risky else base)
    writing = [r for r in redirects if _redirect_target(r, src) is not None]
    writes = tuple(t for r in writing if (t := _redirect_target(r, src)) is not None)
    variants = {
        text,
        " ".join(env_raw + raw),
        " ".join(raw),
        " ".join(plain),
        " ".join(_strip_wrappers(plain)),
    }
    tails = _deny_tails(plain)
    variants.update(" ".join(t) for t in tails)
    opaque = False
    if plain:
        # `/bin/rm` and `{rm,-rf}` run `rm` too: deny rules also see the program's own name
        # and the words the braces give; a name only the shell knows may be any program.
        named = braces(plain[0]) or [plain[0]]
        first = named[0].rsplit("/", 1)[-1] if named[0] != "/" else named[0]
        variants.add(" ".join([first, *named[1:], *plain[1:]]))
        opaque = _expands(words[0], src) or has_glob(named[0]) or braces(plain[0]) is None
    inner = [c for t in (plain, *tails) for c in _inner_commands(t)]
    if writing:
        # What it writes is part of what a rule must say: `Bash(echo * > out.txt)`.
        text = " ".join([text, *(" ".join(_text(r, src).split()) for r in writing)])
    variants.discard(text)
    args = [(plain[i], _expands(w, src)) for i, w in enumerate(words[1 : MAX_ARGS + 2], 1)]
    for r in redirects:
        dest = r.child_by_field_name("destination")
        if r.type == "file_redirect" and dest is not None and dest.type != "number":
            args.append((_unquoted(dest, src), _expands(dest, src)))
    return Part(text, tuple(sorted(variants)), writes, tuple(inner), tuple(args), opaque)


def _expands(node: Node, src: bytes) -> bool:
    """Whether the shell expands a word (a variable, a command's output): its value is not
    what it says."""
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in _EXPANSIONS:
            return True
        if n.type == "ansi_c_string" and "\\" in _text(n, src):
            return True  # `$'\x2fetc'` is `/etc`: what it says is not its value
        stack.extend(n.children)
    return False


def _deny_tails(words: list[str]) -> list[list[str]]:
    """The commands a launcher may run (``sudo -u x rm …`` → ``rm …``), options and their
    arguments guessed loosely: every word among the next few may be the command. Looser
    than :func:`_strip_wrappers`, so used only to match deny rules."""
    tails: list[list[str]] = []
    i = 0
    for _ in range(4):
        if i >= len(words) or words[i].rsplit("/", 1)[-1] not in _LAUNCHERS:
            break
        first = None
        for k in range(i + 1, min(len(words), i + 7)):
            w = words[k]
            if w.startswith("-") or "=" in w or _DURATION.match(w):
                continue
            tails.append(words[k:])
            first = k if first is None else first
        if first is None:
            break
        i = first
    return tails


def _inner_commands(words: list[str]) -> tuple[str, ...]:
    """Command strings a part hands to a shell (``bash -c '…'``, ``eval …``)."""
    if not words:
        return ()
    name = words[0].rsplit("/", 1)[-1]
    if name == "eval":
        return (" ".join(words[1:]),)
    if name in _SHELLS:
        for i, w in enumerate(words[1:-1], 1):
            if w.startswith("-") and not w.startswith("--") and "c" in w:
                return (words[i + 1],)
    return ()


def split_command(command: str) -> CommandSplit:
    """Split ``command`` into the simple commands (and statements) it runs."""
    if len(command) > MAX_COMMAND_CHARS or "\0" in command:
        return CommandSplit(command, (), False)
    try:
        src = command.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate (JSON allows them): no shell gets this text
        return CommandSplit(command, (), False)
    tree = _parser().parse(_BRACE_SCAN.sub(_as_ascii, src))
    root = tree.root_node
    parts: list[Part] = []
    stack = [root]
    size = 0
    while stack:
        if len(parts) > MAX_PARTS or size > 4 * MAX_COMMAND_CHARS:
            # Checking more would hold up the run loop (nested `$(…)` repeat their text in
            # every part); an allow rule cannot match it.
            return CommandSplit(command, tuple(parts), False)
        node = stack.pop()
        t = node.type
        if t == "command":
            parent = node.parent
            redirects: list[Node] = []
            if parent is not None and parent.type == "redirected_statement":
                redirects.extend(
                    c for c in parent.children if c.type in ("file_redirect", "heredoc_redirect")
                )
            parts.append(_command_part(node, redirects, src))
            size += len(parts[-1].text) + sum(map(len, parts[-1].variants))
        elif t in _STATEMENTS and not (t == "variable_assignment" and _in_splitter(node)):
            parts.append(Part(" ".join(_text(node, src).split())))
            size += len(parts[-1].text)
        elif t == "redirected_statement":
            body = node.child_by_field_name("body")
            if body is not None and body.type != "command":
                # `{ a; b; } > f`: the redirection writes a file whatever the body runs.
                writes = tuple(
                    w
                    for c in node.children
                    if c.type == "file_redirect" and (w := _redirect_target(c, src)) is not None
                )
                if writes:
                    parts.append(Part(" ".join(_text(node, src).split()), (), writes))
                    size += len(parts[-1].text)
        stack.extend(reversed(node.children))
    return CommandSplit(command, tuple(parts), not root.has_error)


def _in_splitter(node: Node) -> bool:
    parent = node.parent
    return parent is not None and parent.type in _SPLITTERS


def wildcard_match(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern`` whole, where ``*`` matches any run of characters.

    The pieces between stars are found left to right with ``str.find`` (the leftmost place
    for each is always a right choice), so the check is fast and never backtracks: the model
    writes the command, and a backtracking regex would let it stall the run loop.
    """
    pieces = pattern.split("*")
    if len(pieces) == 1:
        return pattern == text
    first, last = pieces[0], pieces[-1]
    if len(first) + len(last) > len(text) or not text.startswith(first):
        return False
    if not text.endswith(last):
        return False
    at, end = len(first), len(text) - len(last)
    for piece in pieces[1:-1]:
        if not piece:
            continue
        found = text.find(piece, at, end)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def bash_pattern_matches(pattern: str, text: str) -> bool:
    """A Bash rule's pattern against one command's text.

    A trailing `` *`` is a word boundary that also admits the bare command: ``npm run *``
    matches ``npm run`` and ``npm run build`` but not ``npm runx``; ``npm*`` matches all three.
    """
    pattern = re.sub(r"[ \t]+", " ", pattern).strip()
    if pattern.endswith(" *") and text == pattern[:-2]:
        return True
    return wildcard_match(pattern, text)
