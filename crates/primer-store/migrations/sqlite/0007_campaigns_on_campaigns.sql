-- Campaigns that build on campaigns.
-- Fitness reused across campaigns: a worker looks up full-budget measurements of its
-- candidate's program in the store's other campaigns, by program hash.
CREATE INDEX candidates_program ON candidates (program);
-- Children drawn and redrawn because they were over one of the search space's cost limits
-- (max_parameters, max_flops_per_token, max_flops_per_byte) before this candidate was
-- accepted; NULL for none.
ALTER TABLE candidates ADD COLUMN over_limit INTEGER;
