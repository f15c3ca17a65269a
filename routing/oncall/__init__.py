"""Who is on call: people and contacts, rotations with overrides and restrictions, and the
on-call report. Pure: the instant is always an argument."""
