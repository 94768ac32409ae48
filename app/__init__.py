"""Hexabot's composition root: settings, CLI, Slack listeners, identity, audit shipping."""
