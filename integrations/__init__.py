"""Edges to other systems: alert sources, notifiers, log back-ends, CI triggers."""
