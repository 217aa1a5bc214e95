"""SQLite implementations of the storage interfaces in moxpy.store."""
