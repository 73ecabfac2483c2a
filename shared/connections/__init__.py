"""The office's connections to AFAS: storing and switching them (service.py)."""
