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
-- (its worker was stopped, exited or died, or its lease ran out) or ended the candidate as
-- failed. A candidate with attempts A > 1 has a row for each of its first A - 1 attempts.
-- charged: whether the attempt counts against the candidate (its worker died in a way the
-- program could have caused); a stopped worker, a lost controller or a machine that went away
-- are not charged. A candidate fails after `max_attempts` charged attempts.
CREATE TABLE requeues (
    candidate  INTEGER NOT NULL REFERENCES candidates(id),
    attempt    INTEGER NOT NULL,
    worker     TEXT,
    reason     TEXT    NOT NULL,
    charged    INTEGER NOT NULL DEFAULT 1,
    at         REAL NOT NULL,
    PRIMARY KEY (candidate, attempt)
);

-- `primer search --retry-failed` gives failed candidates new attempts: charged attempts up to
-- this one no longer count.
ALTER TABLE candidates ADD COLUMN retry_from INTEGER NOT NULL DEFAULT 0;
