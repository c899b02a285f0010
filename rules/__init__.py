"""Handling rules: YAML schema, working-day calendar, deadline maths, routing and notice templates."""
