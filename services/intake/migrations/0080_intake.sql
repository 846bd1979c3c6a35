-- The Kafka intake's outcome of every authenticated command, keyed by the
-- issuer that signed it and the command id it chose (so one issuer cannot
-- pre-empt another's ids). Written before the reply is published and the
-- offset committed: a command read again after a crash gets this outcome
-- republished instead of being run a second time.

CREATE SCHEMA IF NOT EXISTS intake;

CREATE TABLE intake.outcomes (
    issuer_id   text        NOT NULL,
    command_id  uuid        NOT NULL,
    kind        text        NOT NULL,
    outcome     text        NOT NULL,
    -- The reply record exactly as published (a CommandOutcome, JSON).
    reply       bytea       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer_id, command_id)
);

CREATE INDEX outcomes_recorded_idx ON intake.outcomes (recorded_at);

GRANT USAGE ON SCHEMA intake TO credledger_app;
GRANT SELECT, INSERT ON intake.outcomes TO credledger_app;
