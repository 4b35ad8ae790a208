"""Fuzzing harnesses for the importers; see docs/security.md."""
