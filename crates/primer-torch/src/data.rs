//! Corpora as tensors: the tokens of a text file or a folder of them (see
//! [`primer_tokens::corpus`]: the split, the tokenizer, the validation set), training windows
//! drawn deterministically from a seed, and the validation windows in batches.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

pub use primer_tokens::corpus::{CorpusError, EVAL_BATCH, VALIDATION_FRACTION, ValidationRule, ValidationSet};
use primer_tokens::corpus::{Tokens, read};
use primer_tokens::{Choice, Codec, TokenizerSpec};

/// A corpus's tokens, split into a training part and a fixed held-out tail.
pub struct Corpus {
    pub path: PathBuf,
    pub tokens: Tokens,
    /// The tokenizer's name (`bytes`, `bpe:4096`, a file).
    pub tokenizer: String,
}

/// The validation windows of one evaluation, in batches, each batch from one of
/// [`PARTS`] interleaved parts of the set (window `i` is in part `i % PARTS`).
pub struct ValidationBatches {
    pub batches: Vec<(usize, Tensor)>,
}

/// Disjoint parts of a validation set whose losses give its sampling error.
pub const PARTS: usize = 4;

impl Corpus {
    /// Reads a file or folder and encodes it with `tokenizer`.
    pub fn load(path: &Path, window: usize, tokenizer: &TokenizerSpec) -> Result<Corpus, CorpusError> {
        let bytes = read(path)?;
        Corpus::from_bytes(path, &bytes, window, tokenizer)
    }

    /// Reads a file or folder and encodes it with the tokenizer `choice` names (BPE trained on
    /// its training split); returns the tokenizer made.
    pub fn load_choice(path: &Path, window: usize, choice: &Choice) -> Result<(Corpus, TokenizerSpec), CorpusError> {
        let bytes = read(path)?;
        let spec = TokenizerSpec::make(choice, primer_tokens::corpus::training_part(&bytes, window))
            .map_err(|source| CorpusError::Token { path: path.into(), source })?;
        Ok((Corpus::from_bytes(path, &bytes, window, &spec)?, spec))
    }

    /// The byte tokenizer's corpus (tests, references).
    pub fn load_bytes(path: &Path, window: usize) -> Result<Corpus, CorpusError> {
        Corpus::load(path, window, &TokenizerSpec::bytes())
    }

    /// A corpus from bytes; the last 5% (at least 8 windows) is the validation tail.
    pub fn from_bytes(
        path: &Path,
        bytes: &[u8],
        window: usize,
        tokenizer: &TokenizerSpec,
    ) -> Result<Corpus, CorpusError> {
        let codec = Codec::new(tokenizer).map_err(|source| CorpusError::Token { path: path.into(), source })?;
        let tokens = Tokens::new(path, bytes, &codec, window)?;
        Ok(Corpus { path: path.into(), tokens, tokenizer: tokenizer.name.clone() })
    }

    pub fn vocab(&self) -> usize {
        self.tokens.vocab()
    }

    /// `batch` training windows of `window + 1` tokens at offsets drawn from `rng`, as int64 `[B, T+1]`.
    pub fn train_batch(&self, rng: &mut ChaCha8Rng, batch: usize, window: usize, device: Device) -> Tensor {
        let train = &self.tokens.train;
        let mut flat = Vec::with_capacity(batch * (window + 1));
        for _ in 0..batch {
            let start = rng.random_range(0..train.len() - window);
            flat.extend(train[start..start + window + 1].iter().map(|&b| b as i64));
        }
        Tensor::from_slice(&flat).view([batch as i64, window as i64 + 1]).to_device(device)
    }

    /// The fixed validation batches of the leading rule: consecutive, non-overlapping windows
    /// from the start of the held-out tail, `batches` batches of `batch` (fewer if the tail is
    /// short).
    pub fn validation_batches(&self, batches: usize, batch: usize, window: usize, device: Device) -> Vec<Tensor> {
        let set = self.tokens.validation_set(ValidationRule::Leading { windows: batches * batch }, window);
        self.windows(&set.offsets, window).split(batch as i64, 0).into_iter().map(|t| t.to_device(device)).collect()
    }

    /// The windows at `offsets` as int64 `[N, T+1]`.
    fn windows(&self, offsets: &[usize], window: usize) -> Tensor {
        let per = window + 1;
        let v = &self.tokens.validation;
        let flat: Vec<i64> = offsets.iter().flat_map(|&o| v[o..o + per].iter().map(|&t| t as i64)).collect();
        Tensor::from_slice(&flat).view([offsets.len() as i64, per as i64]).to_kind(Kind::Int64)
    }

    /// A validation set's windows selected by `keep(index)`, batched per part: the leading
    /// rule in batches of `batch` (as campaigns made before the spread set measured it), the
    /// spread rule in batches of [`EVAL_BATCH`] drawn from one part each.
    pub fn set_batches(
        &self,
        set: &ValidationSet,
        window: usize,
        batch: usize,
        keep: impl Fn(usize) -> bool,
        device: Device,
    ) -> ValidationBatches {
        let mut batches = Vec::new();
        match set.rule {
            ValidationRule::Leading { .. } => {
                let offsets: Vec<usize> =
                    set.offsets.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, &o)| o).collect();
                for chunk in offsets.chunks(batch.max(1)) {
                    batches.push((0, self.windows(chunk, window).to_device(device)));
                }
            }
            ValidationRule::Spread { .. } => {
                for part in 0..PARTS {
                    let offsets: Vec<usize> = set
                        .offsets
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % PARTS == part && keep(*i))
                        .map(|(_, &o)| o)
                        .collect();
                    for chunk in offsets.chunks(EVAL_BATCH) {
                        batches.push((part, self.windows(chunk, window).to_device(device)));
                    }
                }
            }
        }
        ValidationBatches { batches }
    }
}

/// The random stream of a training run's batches.
pub fn batch_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}
