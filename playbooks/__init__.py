"""Playbooks attached to incidents (fetch logs, reproduce on staging, approved hotfix deploy)."""
