"""Shared value types, validation, audit trail and helpers used by every app."""
