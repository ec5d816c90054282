"""Deterministic JSON values that validate against a JSON Schema, for the offline sim worker.

The sim worker answers ``agent(prompt, {schema})`` without a model, so it needs a value that
validates against the schema (Draft 2020-12, as ``jsonschema.Draft202012Validator`` checks it),
stays the same for the same prompt, and looks like something a model might have written
(``"summary-3f2a"``, an enum member, a small number in range) rather than noise.

How a value is built:

- ``$ref`` and ``allOf`` are flattened into one set of constraints per level; keywords that
  combine by intersection (``type``, bounds, ``required``, ``enum``) are merged, keywords that
  depend on their sibling keywords (``items`` after ``prefixItems``, ``additionalProperties``
  after ``properties``) are kept per subschema and applied exactly;
- disjunctions (``anyOf``, ``oneOf``, ``if``/``then``/``else``) are tried branch by branch;
- every level checks its candidate with ``jsonschema`` and retries with another seed (and
  with optional content left out) when it does not validate, so keywords honoured only on a
  best-effort basis (``not``, ``oneOf`` exclusivity, ``dependentSchemas``, ``unevaluated*``)
  cost retries, never an invalid answer.

The package, one job per module, imports flowing down this list and never back up:

- ``build``: ``generate_instance`` and the generator's loop (one level, its branches, its budgets);
- ``containers``: arrays and objects (items, uniqueness, ``contains``, properties, dependencies);
- ``strings``: strings for lengths, formats and patterns; ``numeric``: integers and numbers;
- ``regex``: one string a regular expression matches, built from its parse tree;
- ``flatten``: ``$ref``/``allOf`` merged into one ``_Flat`` per level, checked by ``jsonschema``;
- ``base``: the caps, the error, seeded choices and JSON paths that all of them share.
"""

from .base import MAX_DEPTH, SchemaUnsatisfiable
from .build import generate_instance

__all__ = ["MAX_DEPTH", "SchemaUnsatisfiable", "generate_instance"]
