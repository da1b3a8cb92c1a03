//! Corpora: a text file or a folder of them, read as bytes (tokens 0..255); a fixed held-out
//! tail for validation; training windows drawn deterministically from a seed.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

/// A corpus that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {bytes} bytes is too small (need at least {need} for training and validation windows)")]
    TooSmall { path: PathBuf, bytes: usize, need: usize },
}

/// Bytes split into a training part and a fixed held-out tail.
pub struct Corpus {
    pub path: PathBuf,
    pub train: Vec<u8>,
    pub validation: Vec<u8>,
}

/// The share of a corpus held out for validation (its tail).
pub const VALIDATION_FRACTION: f64 = 0.05;

impl Corpus {
    /// Reads a file, or every file of a folder (recursively, in name order, joined).
    pub fn load(path: &Path, window: usize) -> Result<Corpus, CorpusError> {
        let mut bytes = Vec::new();
        read_into(path, &mut bytes)?;
        Corpus::from_bytes(path, bytes, window)
    }

    /// A corpus from bytes; the last 5% (at least 8 windows) is the validation tail.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>, window: usize) -> Result<Corpus, CorpusError> {
        let held = ((bytes.len() as f64 * VALIDATION_FRACTION) as usize).max(8 * (window + 1));
        let need = held + 8 * (window + 1);
        if bytes.len() < need {
            return Err(CorpusError::TooSmall { path: path.into(), bytes: bytes.len(), need });
        }
        let split = bytes.len() - held;
        Ok(Corpus { path: path.into(), validation: bytes[split..].to_vec(), train: bytes[..split].to_vec() })
    }

    /// `batch` training windows of `window + 1` bytes at offsets drawn from `rng`, as int64 `[B, T+1]`.
    pub fn train_batch(&self, rng: &mut ChaCha8Rng, batch: usize, window: usize, device: Device) -> Tensor {
        let mut flat = Vec::with_capacity(batch * (window + 1));
        for _ in 0..batch {
            let start = rng.random_range(0..self.train.len() - window);
            flat.extend(self.train[start..start + window + 1].iter().map(|&b| b as i64));
        }
        Tensor::from_slice(&flat).view([batch as i64, window as i64 + 1]).to_device(device)
    }

    /// The fixed validation batches: consecutive, non-overlapping windows from the start of the
    /// held-out tail, `batches` batches of `batch` (fewer if the tail is short).
    pub fn validation_batches(&self, batches: usize, batch: usize, window: usize, device: Device) -> Vec<Tensor> {
        let per = window + 1;
        let available = self.validation.len() / per;
        let n = (batches * batch).min(available);
        let windows: Vec<i64> = self.validation[..n * per].iter().map(|&b| b as i64).collect();
        Tensor::from_slice(&windows)
            .view([n as i64, per as i64])
            .to_kind(Kind::Int64)
            .split(batch as i64, 0)
            .into_iter()
            .map(|t| t.to_device(device))
            .collect()
    }
}

/// The random stream of a training run's batches.
pub fn batch_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn read_into(path: &Path, out: &mut Vec<u8>) -> Result<(), CorpusError> {
    let err = |source| CorpusError::Read { path: path.into(), source };
    if path.is_dir() {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(path).map_err(err)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries {
            read_into(&e, out)?;
        }
        Ok(())
    } else {
        out.extend(std::fs::read(path).map_err(err)?);
        Ok(())
    }
}
