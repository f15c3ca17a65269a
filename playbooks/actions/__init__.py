"""The actions a step's `uses:` names (playbooks.registry collects them)."""
