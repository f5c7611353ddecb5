-- The lease table keyed by its token (the digest a worker's token is checked against) alone:
-- a rowid table kept the rows in one b-tree and the token in a second (its primary key's
-- index), so every lease wrote a page of each. WITHOUT ROWID keeps the row in the key's
-- b-tree: one page per lease.
CREATE TABLE job_leases_by_token (
    token TEXT PRIMARY KEY,
    stage_id INTEGER NOT NULL REFERENCES stages(id),
    application_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    worker_id TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO job_leases_by_token (token, stage_id, application_id, attempt, worker_id,
                                 created_at, state)
    SELECT token, stage_id, application_id, attempt, worker_id, created_at, state
    FROM job_leases;
DROP TABLE job_leases;
ALTER TABLE job_leases_by_token RENAME TO job_leases;
CREATE INDEX job_leases_stage ON job_leases (stage_id);
