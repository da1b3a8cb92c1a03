-- primer's store, version 1. Portable SQL (integers, reals, text; $N placeholders in queries)
-- so that PostgreSQL gets a second set of migrations, not a rewrite. Times are Unix seconds.

-- A campaign: its resolved configuration (JSON, stored verbatim) and seed.
CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    config      TEXT    NOT NULL,
    seed        INTEGER NOT NULL,
    created_at  REAL    NOT NULL,
    finished_at REAL
);

-- Programs by canonical hash (hex SHA-256): text, JSON, size and cost at the campaign's model.
CREATE TABLE programs (
    hash             TEXT    PRIMARY KEY,
    text             TEXT    NOT NULL,
    json             TEXT    NOT NULL,
    parameters       INTEGER NOT NULL,
    flops_per_token  INTEGER NOT NULL
);

-- Candidates: one program of one campaign, born in order. Seeds have no parent and a
-- seed_index; children have a parent and the mutation (JSON and words). A campaign never holds
-- a program twice. status: pending -> running (a worker holds a lease) -> done | failed.
CREATE TABLE candidates (
    id           INTEGER PRIMARY KEY,
    campaign     INTEGER NOT NULL REFERENCES campaigns(id),
    birth        INTEGER NOT NULL,
    program      TEXT    NOT NULL REFERENCES programs(hash),
    parent       INTEGER REFERENCES candidates(id),
    seed_index   INTEGER,
    mutation     TEXT,
    description  TEXT,
    status       TEXT    NOT NULL DEFAULT 'pending',
    worker       TEXT,
    lease_until  REAL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    fingerprint  TEXT,
    created_at   REAL    NOT NULL,
    UNIQUE (campaign, birth),
    UNIQUE (campaign, program)
);
CREATE INDEX candidates_status ON candidates (campaign, status, birth);

-- The result of a candidate: at most one per candidate. outcome: finished | stopped |
-- invalid | diverged | out_of_memory | reused | failed. fitness: validation loss (nats per
-- byte), NULL when there is none. hurdles: checkpoints passed.
CREATE TABLE evaluations (
    candidate    INTEGER PRIMARY KEY REFERENCES candidates(id),
    budget       TEXT    NOT NULL,
    fitness      REAL,
    steps        INTEGER NOT NULL,
    tokens       INTEGER NOT NULL,
    flops        REAL    NOT NULL,
    seconds      REAL    NOT NULL,
    hurdles      INTEGER NOT NULL,
    outcome      TEXT    NOT NULL,
    reason       TEXT,
    reused_from  INTEGER REFERENCES candidates(id),
    worker       TEXT,
    finished_at  REAL    NOT NULL
);

-- Validation loss at each hurdle checkpoint reached (k = 0-based checkpoint).
CREATE TABLE checkpoints (
    candidate  INTEGER NOT NULL REFERENCES candidates(id),
    k          INTEGER NOT NULL,
    loss       REAL    NOT NULL,
    PRIMARY KEY (candidate, k)
);

-- Learning curves.
CREATE TABLE curve_points (
    candidate   INTEGER NOT NULL REFERENCES candidates(id),
    step        INTEGER NOT NULL,
    tokens      INTEGER NOT NULL,
    flops       REAL    NOT NULL,
    seconds     REAL    NOT NULL,
    train_loss  REAL    NOT NULL,
    val_loss    REAL,
    PRIMARY KEY (candidate, step)
);
