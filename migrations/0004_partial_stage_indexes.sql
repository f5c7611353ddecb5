-- Each stage hop moves a stage NotStarted → Pending → Running → finished. Indexes over every
-- stage by (status, ...) moved an entry in each of them on every transition; the sweeps and
-- counts that use them look at the stages of one status only, so each index now holds just
-- those rows (SQLite and PostgreSQL use a partial index when the query names the same status
-- as a literal, which every such query does).
DROP INDEX stages_status_lease;
DROP INDEX stages_status_pending;
DROP INDEX stages_status_finished;
DROP INDEX stages_lease_worker;
CREATE INDEX stages_running_lease ON stages (lease_until) WHERE status = 'Running';
CREATE INDEX stages_running_worker ON stages (lease_worker_id) WHERE status = 'Running';
CREATE INDEX stages_pending_since ON stages (pending_since) WHERE status = 'Pending';
CREATE INDEX stages_finished ON stages (finished_at) WHERE finished_at IS NOT NULL;
