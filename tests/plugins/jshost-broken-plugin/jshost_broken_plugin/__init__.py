"""Fails on import, as a plugin whose own dependency is missing would."""

raise ImportError("jshost_broken_plugin needs libmissing, which is not installed")
