"""HTTP schemas by area: cases (action bodies; the complaint and case views are in core.contracts.case_io),
clocks, partners, supervision, reports, rules."""
