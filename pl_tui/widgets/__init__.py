"""Reusable widgets and the safe-text helpers for header values and paths."""
