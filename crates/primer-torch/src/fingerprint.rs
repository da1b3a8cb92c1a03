//! The functional fingerprint (in the spirit of AutoML-Zero's FEC): a hash of the untrained
//! model's outputs for a fixed init seed and a fixed input batch, rounded, so that programs
//! that compute the same function share it. The program is compiled in its canonical form, so
//! parameters are created in the same order for structurally equal programs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};
use tch::{Device, Tensor};

use primer_dsl::analysis::canonical_form;
use primer_dsl::{ModelConfig, Program};

use crate::compile::{CompileError, Model};

/// The init seed and input seed of every fingerprint.
pub const FINGERPRINT_SEED: u64 = 235_732_282;
/// Logits are rounded to this many decimals before hashing.
pub const DECIMALS: i32 = 4;

/// The fingerprint (hex SHA-256) of `p` at `config`, on the CPU.
pub fn fingerprint(p: &Program, config: ModelConfig) -> Result<String, CompileError> {
    let model = Model::new(&canonical_form(p), config, Device::Cpu, FINGERPRINT_SEED)?;
    let mut rng = ChaCha8Rng::seed_from_u64(FINGERPRINT_SEED);
    let tokens: Vec<i64> = (0..2 * config.seq_len).map(|_| rng.random_range(0..config.vocab as i64)).collect();
    let input = Tensor::from_slice(&tokens).view([2, config.seq_len as i64]);
    let logits = tch::no_grad(|| model.forward(&input))?.f_to_kind(tch::Kind::Double)?.f_flatten(0, -1)?;
    let values: Vec<f64> = Vec::<f64>::try_from(&logits).map_err(CompileError::Torch)?;
    let scale = 10f64.powi(DECIMALS);
    let mut h = Sha256::new();
    for v in values {
        let r = if v.is_finite() {
            (v * scale).round() as i64
        } else if v.is_nan() {
            i64::MIN
        } else {
            i64::MAX
        };
        h.update(r.to_le_bytes());
    }
    Ok(hex::encode(h.finalize()))
}
