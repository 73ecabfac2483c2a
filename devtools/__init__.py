"""Dev-only tools: the local Functions host, Azurite launcher, sandboxes and the demo.

Nothing outside devtools/, tests/ and bench/ imports this package; it is not deployed.
"""
