"""Value types every routing stage shares: durations, config field types, wall-clock time
in a zone."""
