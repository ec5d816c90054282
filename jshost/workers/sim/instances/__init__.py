"""Deterministic JSON values that validate against a JSON Schema, for the offline sim worker."""

from .flatten import MAX_DEPTH, SchemaUnsatisfiable, generate_instance

__all__ = ["MAX_DEPTH", "SchemaUnsatisfiable", "generate_instance"]
