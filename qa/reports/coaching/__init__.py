"""The coaching report's parts: settings, records, the counting, CSV tables (the data comes from the pipeline)."""
