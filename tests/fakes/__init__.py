"""Local stand-ins for the platforms' HTTP APIs, spoken to over real HTTP by the real clients."""
