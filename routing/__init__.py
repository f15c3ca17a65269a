"""The core of firebell: alerts, incidents, dedup, grouping, routing decisions and storage."""
