-- Two indexes on pipelines look only at some rows: idempotency keys (most pipelines have
-- none) and finish times (retention and stats ranges; none while a pipeline runs). Holding
-- only those rows, each costs a creation nothing and a finish one entry instead of a move.
-- Uniqueness is unchanged: NULL keys never collided.
DROP INDEX pipelines_idempotency;
CREATE UNIQUE INDEX pipelines_idempotency ON pipelines (application_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
DROP INDEX pipelines_application_finished;
CREATE INDEX pipelines_application_finished ON pipelines (application_id, finished_at)
    WHERE finished_at IS NOT NULL;
