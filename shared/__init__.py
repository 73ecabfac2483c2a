"""Loonbrug's domain: plain Python, no azure.functions imports (see docs/architecture.md)."""
