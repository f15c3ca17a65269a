"""Slack and Discord: the Slack app (Events API and Socket Mode), the Discord gateway bot and
interactions endpoint, and the sync that keeps posted messages in step with incidents."""
