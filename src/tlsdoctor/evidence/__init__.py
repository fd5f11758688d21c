"""Evidence that is not a capture: nginx configuration (and, later, logs, key logs, PEM files)."""
