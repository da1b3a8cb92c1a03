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
