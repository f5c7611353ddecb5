-- Pipelogiq schema, version 1. Portable SQL: SQLite and PostgreSQL read this file alike.
-- Times are DOUBLE PRECISION seconds since the Unix epoch, written by the application's clock.
-- Ids: INTEGER PRIMARY KEY (SQLite rowid); on PostgreSQL migrate.for_postgres makes them identity
-- columns. tests/integration/test_schema_dialects.py checks both dialects give one schema.

CREATE TABLE kv_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE applications (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION,
    disabled_at DOUBLE PRECISION,
    last_used_at DOUBLE PRECISION
);
CREATE INDEX api_keys_application ON api_keys (application_id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    disabled_at DOUBLE PRECISION
);

CREATE TABLE user_applications (
    user_id INTEGER NOT NULL REFERENCES users(id),
    application_id INTEGER NOT NULL REFERENCES applications(id),
    PRIMARY KEY (user_id, application_id)
);

CREATE TABLE pipelines (
    id INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    name TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    status TEXT NOT NULL,
    is_event INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE UNIQUE INDEX pipelines_idempotency ON pipelines (application_id, idempotency_key);
CREATE INDEX pipelines_application_created ON pipelines (application_id, created_at DESC, id DESC);
CREATE INDEX pipelines_status ON pipelines (status);

CREATE TABLE stages (
    id INTEGER PRIMARY KEY,
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
    application_id INTEGER NOT NULL REFERENCES applications(id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    handler TEXT NOT NULL,
    description TEXT,
    input TEXT,
    output TEXT,
    error_code TEXT,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    retries_used INTEGER NOT NULL DEFAULT 0,
    redeliveries INTEGER NOT NULL DEFAULT 0,
    next_retry_at DOUBLE PRECISION,
    wait_reason TEXT,
    span_id TEXT NOT NULL,
    is_event INTEGER NOT NULL DEFAULT 0,
    options TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    ready_at DOUBLE PRECISION,
    pending_since DOUBLE PRECISION,
    started_at DOUBLE PRECISION,
    attempt_started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    lease_token TEXT,
    lease_until DOUBLE PRECISION,
    attempt_deadline DOUBLE PRECISION,
    lease_worker_id TEXT
);
CREATE UNIQUE INDEX stages_pipeline_position ON stages (pipeline_id, position);
CREATE INDEX stages_status_lease ON stages (status, lease_until);
CREATE INDEX stages_status_pending ON stages (status, pending_since);
CREATE INDEX stages_lease_worker ON stages (lease_worker_id);

-- Every lease ever granted: tells an expired or unknown token (404) from a superseded one (409),
-- and makes a repeated ack of the same token idempotent.
CREATE TABLE job_leases (
    token TEXT PRIMARY KEY,
    stage_id INTEGER NOT NULL REFERENCES stages(id),
    application_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    worker_id TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX job_leases_stage ON job_leases (stage_id);

CREATE TABLE stage_logs (
    id INTEGER PRIMARY KEY,
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
    stage_id INTEGER REFERENCES stages(id),
    created_at DOUBLE PRECISION NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX stage_logs_pipeline ON stage_logs (pipeline_id, stage_id, id);

CREATE TABLE context_items (
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    value_type TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (pipeline_id, key)
);

CREATE TABLE keywords (
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX keywords_pipeline ON keywords (pipeline_id);
CREATE INDEX keywords_key_value ON keywords (key, value);

CREATE TABLE application_logs (
    id INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    created_at DOUBLE PRECISION NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    keywords TEXT
);
CREATE INDEX application_logs_application ON application_logs (application_id, created_at);

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    instance_id TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT,
    sdk_version TEXT,
    environment TEXT,
    host_name TEXT,
    pid INTEGER,
    handlers TEXT NOT NULL,
    capabilities TEXT,
    metadata TEXT,
    state TEXT NOT NULL,
    session_hash TEXT,
    session_expires_at DOUBLE PRECISION,
    started_at DOUBLE PRECISION NOT NULL,
    last_seen DOUBLE PRECISION NOT NULL,
    in_flight INTEGER NOT NULL DEFAULT 0,
    processed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE UNIQUE INDEX workers_instance ON workers (application_id, instance_id);
CREATE INDEX workers_session ON workers (session_hash);
CREATE INDEX workers_state ON workers (state, last_seen);

CREATE TABLE worker_heartbeats (
    id INTEGER PRIMARY KEY,
    worker_id TEXT NOT NULL REFERENCES workers(id),
    created_at DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL,
    in_flight INTEGER,
    processed INTEGER,
    failed INTEGER,
    cpu_percent DOUBLE PRECISION,
    memory_mb DOUBLE PRECISION,
    details TEXT
);
CREATE INDEX worker_heartbeats_worker ON worker_heartbeats (worker_id, created_at);

CREATE TABLE worker_events (
    id INTEGER PRIMARY KEY,
    worker_id TEXT NOT NULL REFERENCES workers(id),
    created_at DOUBLE PRECISION NOT NULL,
    level TEXT NOT NULL,
    event_type TEXT NOT NULL,
    message TEXT NOT NULL,
    details TEXT
);
CREATE INDEX worker_events_worker ON worker_events (worker_id, created_at);

CREATE TABLE policies (
    id INTEGER PRIMARY KEY,
    application_id INTEGER REFERENCES applications(id),
    name TEXT NOT NULL,
    policy_type TEXT NOT NULL,
    status TEXT NOT NULL,
    rules TEXT NOT NULL,
    targeting TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX policies_status ON policies (status);

CREATE TABLE policy_events (
    id INTEGER PRIMARY KEY,
    policy_id INTEGER NOT NULL REFERENCES policies(id),
    created_at DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    policy_version INTEGER NOT NULL,
    pipeline_id INTEGER,
    stage_id INTEGER,
    actor TEXT,
    details TEXT
);
CREATE INDEX policy_events_policy ON policy_events (policy_id, created_at);

CREATE TABLE integration_configs (
    kind TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
