"""Deploy targets: where `secure-up deploy` puts a stack (Docker Swarm today)."""
