"""Use cases over the database, Temporal and the rules: intake, case reads and visibility, keys, reports, spikes,
audit, rules administration, schedules. REST routes, the CLI and the console call these; nothing here imports api."""
