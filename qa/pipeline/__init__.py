"""Stage 6, the runs: one call end to end (ingest, review), the archive scan and the nightly run, coaching from the store."""
