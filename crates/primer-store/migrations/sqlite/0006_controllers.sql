-- The controller of each campaign (`primer search`): one at a time. A controller holds the
-- campaign while its heartbeat (the store server's clock, Unix seconds) is fresher than the
-- lease it renews; a second one started on the campaign is refused and told who holds it.
CREATE TABLE controllers (
    campaign      INTEGER PRIMARY KEY REFERENCES campaigns(id),
    holder        TEXT    NOT NULL,
    host          TEXT    NOT NULL,
    pid           INTEGER NOT NULL,
    started_at    REAL    NOT NULL,
    heartbeat_at  REAL    NOT NULL
);

-- Why a candidate's attempt ended without a result: one row per attempt that was given back
-- (its worker exited, or its lease ran out) or ended the candidate as failed. A candidate with
-- attempts A > 1 has a row for each of its first A - 1 attempts.
CREATE TABLE requeues (
    candidate  INTEGER NOT NULL REFERENCES candidates(id),
    attempt    INTEGER NOT NULL,
    worker     TEXT,
    reason     TEXT    NOT NULL,
    at         REAL NOT NULL,
    PRIMARY KEY (candidate, attempt)
);
