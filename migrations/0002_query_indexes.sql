-- Indexes for stats, retention (finished_at) and policy insights.
CREATE INDEX pipelines_application_finished ON pipelines (application_id, finished_at);
CREATE INDEX stages_status_finished ON stages (status, finished_at);
-- Policy insights and lists.
CREATE INDEX policy_events_kind ON policy_events (policy_id, kind, created_at);
CREATE INDEX policies_application ON policies (application_id);
