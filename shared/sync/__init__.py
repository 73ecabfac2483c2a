"""The sync engine: planning runs, the queue worker and its idempotent steps."""
