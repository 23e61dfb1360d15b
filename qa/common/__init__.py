"""What every stage may use: where files are, load-once caches, code-point helpers, the settings layer and input limits."""
