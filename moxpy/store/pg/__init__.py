"""The PostgreSQL storage backend (Storage = "postgresql" in the config).

db.py is the twin of ../db.py: a database with one writer thread and
group commit, reads on the calling thread, over psycopg 3. The stores of
../sqlite/ run on it unchanged where their SQL is common to both engines:
the connection handed to their write functions takes SQLite's "?"
placeholders and SQLite's column types in table definitions, and gives
rows that are read by name and by position alike.

accounts.py is the account store (PgStore): SQLite's account class over
a schema per account, its message bytes in chunks there (contents.py),
its listings' words as FTS5 would find them (fulltext.py).
"""
