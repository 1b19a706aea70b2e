"""Access control: roles and policies, authentication, redaction, the audit ledger."""
