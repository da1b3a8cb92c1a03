-- Retraining at other budgets (`primer rerun`, as the paper retrained its top 100 at the full
-- budget): one row per candidate, budget and seed, beside the original evaluation.
CREATE TABLE reruns (
    candidate    INTEGER NOT NULL REFERENCES candidates(id),
    budget       TEXT    NOT NULL,
    seed         INTEGER NOT NULL,
    fitness      REAL,
    steps        INTEGER NOT NULL,
    flops        REAL    NOT NULL,
    seconds      REAL    NOT NULL,
    outcome      TEXT    NOT NULL,
    reason       TEXT,
    finished_at  REAL    NOT NULL,
    PRIMARY KEY (candidate, budget, seed)
);
