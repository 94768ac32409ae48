"""A local Slack for tests, the demo and the web console."""
