-- Stats and retention filter on finished_at.
CREATE INDEX pipelines_application_finished ON pipelines (application_id, finished_at);
CREATE INDEX stages_status_finished ON stages (status, finished_at);
