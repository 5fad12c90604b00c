"""Access control: API tokens (users, roles and the audit log come later)."""
