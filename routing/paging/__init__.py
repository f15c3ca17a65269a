"""Paging: the policy, escalation and triage decisions (pure), and their stores: escalation
steps, the notification outbox, follow-ups on open incidents and silence reminders."""
