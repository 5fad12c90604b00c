"""Workspace configuration as named, versioned resources: tracking plans, source connections,
transformations, PII matchers and controls, consent categories — and `apply` over them."""
