"""What one firebell process shares: its Runtime (settings, engine, intake writer, metrics),
the group-commit intake writer thread, Prometheus metrics and JSON logs."""
