"""Privacy: PII classification and controls, consent, suppression."""
