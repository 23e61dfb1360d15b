"""What every stage may use: where files are, load-once caches, code-point helpers, per-run overrides."""
