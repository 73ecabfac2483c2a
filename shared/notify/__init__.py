"""E-mail notifications: per-office settings, Dutch texts, sending once per event."""
