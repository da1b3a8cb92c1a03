-- Retraining at other budgets (`primer rerun`, as the paper retrained its top 100 at the full
-- budget): one row per candidate, budget and seed, beside the original evaluation.
CREATE TABLE reruns (
    candidate    BIGINT NOT NULL REFERENCES candidates(id),
    budget       TEXT    NOT NULL,
    seed         BIGINT NOT NULL,
    fitness      DOUBLE PRECISION,
    steps        BIGINT NOT NULL,
    flops        DOUBLE PRECISION    NOT NULL,
    seconds      DOUBLE PRECISION    NOT NULL,
    outcome      TEXT    NOT NULL,
    reason       TEXT,
    finished_at  DOUBLE PRECISION    NOT NULL,
    PRIMARY KEY (candidate, budget, seed)
);
