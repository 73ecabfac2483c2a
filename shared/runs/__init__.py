"""Runs as the domain sees them: statuses, counts, the "run done/failed" rule (model.py) and
their Dutch texts (texts.py). Plain values, no storage: ``shared/store/runs.py`` keeps them."""
