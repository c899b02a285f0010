"""Temporal activities: all IO of a case (rules, projection, notices, archive)."""
