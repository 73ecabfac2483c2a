"""Thin trigger adapters: one Blueprint per trigger group, each calling into shared/."""
