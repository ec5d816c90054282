"""jshost — run Claude Code workflow scripts in a QuickJS sandbox."""

__version__ = "0.1.0"
