-- Trained weights of a candidate (`primer export` stores them when it trains one, so a second
-- export reuses them): a safetensors file under the compiler's parameter names, trained at
-- `budget` with training seed `seed`, and the validation loss that training ended with.
CREATE TABLE weights (
    candidate    BIGINT NOT NULL REFERENCES candidates(id),
    budget       TEXT    NOT NULL,
    seed         BIGINT NOT NULL,
    fitness      DOUBLE PRECISION,
    steps        BIGINT NOT NULL,
    data         BYTEA    NOT NULL,
    created_at   DOUBLE PRECISION    NOT NULL,
    PRIMARY KEY (candidate, budget, seed)
);
