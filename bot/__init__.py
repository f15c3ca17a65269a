"""Surfaces and composition root: HTTP app, Slack, Discord, CLI, config, workers."""
