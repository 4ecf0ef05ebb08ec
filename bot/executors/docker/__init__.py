"""Docker: containers through the `docker` SDK (DOCKER_HOST or the local socket)."""
