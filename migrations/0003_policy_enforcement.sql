-- Policy enforcement state (SPEC §6), shared by every engine replica through the database.

-- A ready stage a policy holds back: until when, and by which policy ('<type>:<policy id>';
-- a rate_limit hold is a reserved slot, a circuit_breaker hold asks the breaker again).
ALTER TABLE stages ADD COLUMN held_until DOUBLE PRECISION;
ALTER TABLE stages ADD COLUMN held_by TEXT;

-- One GCRA bucket per rate-limit policy and key: its theoretical arrival time.
CREATE TABLE rate_limits (
    policy_id INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    bucket_key TEXT NOT NULL,
    tat DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (policy_id, bucket_key)
);

-- One breaker per circuit-breaker policy and (application, handler).
CREATE TABLE breakers (
    policy_id INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    breaker_key TEXT NOT NULL,
    state TEXT NOT NULL,
    opened_until DOUBLE PRECISION,
    trials INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (policy_id, breaker_key)
);

-- Failed attempts per breaker within its window (older rows are deleted as they age out).
CREATE TABLE breaker_failures (
    id INTEGER PRIMARY KEY,
    policy_id INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    breaker_key TEXT NOT NULL,
    failed_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX breaker_failures_key ON breaker_failures (policy_id, breaker_key, failed_at);
