"""Getting runs onto machines: grid expansion and validation for multiruns."""
