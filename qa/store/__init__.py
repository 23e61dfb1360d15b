"""Stage 5, keeping results: SQLite or PostgreSQL (``engine``), the tables and migrations (``schema``),
reads and writes (``database``). The only package that imports SQLAlchemy."""
