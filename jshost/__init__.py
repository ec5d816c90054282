"""jshost — run Claude Code workflow scripts in a QuickJS sandbox.

Layout: the subpackages are the stages a script goes through, in order.

- ``script``   1 · check: text → ``Script``, and every problem in it (load, meta, lint, validate).
  Runs nothing.
- ``sandbox``  2 · isolate: one QuickJS context per run, with ``runtime.js`` (the repository's
  top-level prelude) and the outbox bridge.
- ``engine``   3 · run: the trio loop: caps, scheduling, budget, timers, child workflows.
- ``workers``  4 · answer: ``AgentRequest`` → ``AgentResult`` (``sim``, ``anthropic``).
- ``store``    5 · remember: the SQLite run store.
- ``ui``       6 · show: events in, terminal out (plain, live, json, ``interactive``).
- ``cli``      the face: one module per command group.

Plain data every stage may name sits at the top level: ``records`` (a run's records),
``events``, ``journal``, ``errors``, ``schemas``, ``config``, ``library`` (saved workflows).
Imports point one way, from the face toward the plain data: ``tests/test_layers.py`` fails
on a cycle or on a forbidden direction.
"""

__version__ = "0.1.0"
