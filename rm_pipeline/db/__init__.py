"""Database access: URLs, the embedded server, the engine, models and the bulk loader."""
