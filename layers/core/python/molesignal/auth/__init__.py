"""Identity: passwords, JWT sessions with rotating refresh tokens, API tokens, principals."""
