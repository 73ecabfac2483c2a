"""The journal domain: pure functions over frozen dataclasses (no storage, no HTTP)."""
