"""Review mode: the office's approval items (service.py); the booking is shared/sync/review.py."""
