-- Hurdle thresholds without a join: each checkpoint row also names its campaign and birth (as
-- its candidate has them), so that the median of the earlier candidates' losses at a
-- checkpoint is read from an index in loss order (and their count from one in birth order),
-- at a cost that does not grow with the joined history.
ALTER TABLE checkpoints ADD COLUMN campaign INTEGER;
ALTER TABLE checkpoints ADD COLUMN birth INTEGER;
UPDATE checkpoints SET campaign = (SELECT c.campaign FROM candidates c WHERE c.id = checkpoints.candidate),
                       birth = (SELECT c.birth FROM candidates c WHERE c.id = checkpoints.candidate);
CREATE INDEX checkpoints_by_birth ON checkpoints (campaign, k, birth);
CREATE INDEX checkpoints_by_loss ON checkpoints (campaign, k, loss);
