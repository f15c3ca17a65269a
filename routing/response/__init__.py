"""What people do to an incident: list, acknowledge, resolve, note; stopping its escalations."""
