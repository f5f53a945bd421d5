"""The database: the models, the engine and sessions (WAL, pools, write transactions, migrations), the database's clock."""
