"""Access: users, roles and permissions, password sessions and API tokens, and the audit log."""
