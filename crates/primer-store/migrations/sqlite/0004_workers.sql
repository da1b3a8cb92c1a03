-- Workers that joined a campaign (`primer worker`: spawned by `primer search`, by Slurm, or by
-- hand on any machine): where they run, what they did, whether they still answer. Times are
-- Unix seconds; heartbeat_at is the store server's clock. A worker whose heartbeat is older
-- than its campaign's lease is stale; exited_at is set when it leaves.
CREATE TABLE workers (
    id            TEXT    PRIMARY KEY,
    campaign      INTEGER NOT NULL REFERENCES campaigns(id),
    host          TEXT    NOT NULL,
    pid           INTEGER NOT NULL,
    device        TEXT    NOT NULL,
    started_at    REAL    NOT NULL,
    heartbeat_at  REAL    NOT NULL,
    done          INTEGER NOT NULL DEFAULT 0,
    exited_at     REAL
);
CREATE INDEX workers_campaign ON workers (campaign, heartbeat_at);

-- Functional dedup looks candidates up by fingerprint.
CREATE INDEX candidates_fingerprint ON candidates (campaign, fingerprint);
