-- Trained weights of a candidate (`primer export` stores them when it trains one, so a second
-- export reuses them): a safetensors file under the compiler's parameter names, trained at
-- `budget` with training seed `seed`, and the validation loss that training ended with.
CREATE TABLE weights (
    candidate    INTEGER NOT NULL REFERENCES candidates(id),
    budget       TEXT    NOT NULL,
    seed         INTEGER NOT NULL,
    fitness      REAL,
    steps        INTEGER NOT NULL,
    data         BLOB    NOT NULL,
    created_at   REAL    NOT NULL,
    PRIMARY KEY (candidate, budget, seed)
);
