"""The Slack app: Bolt in Socket Mode, thin listeners, one rendering module."""
