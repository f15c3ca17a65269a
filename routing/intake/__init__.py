"""Alert intake: the normalized Alert, fingerprints, dedup and grouping decisions (pure), and
the ingest transaction that stores a batch of them (store)."""
