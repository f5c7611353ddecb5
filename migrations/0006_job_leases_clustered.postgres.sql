-- SQLite only (a WITHOUT ROWID table): PostgreSQL's heap and primary-key index stay as they are.
SELECT 1;
