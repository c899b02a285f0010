"""Temporal workflow code: deterministic, no IO."""
