//! Domain values as the store's rows.

use primer_dsl::analysis::canonical_hash;
use primer_dsl::{Program, text};
use primer_store::ProgramRow;

use crate::spec::CampaignSpec;

/// The program row of a program at a campaign's model size.
pub fn program_row(spec: &CampaignSpec, p: &Program) -> ProgramRow {
    let cost = spec.cost(p);
    ProgramRow {
        hash: canonical_hash(p).hex(),
        text: text::print(p),
        json: text::to_json(p),
        parameters: cost.map_or(0, |c| c.model_params as i64),
        flops_per_token: cost.map_or(0, |c| c.training_flops_per_token as i64),
    }
}
