"""The bot's HTTP side server: health, readiness, metrics and the OAuth callback."""
