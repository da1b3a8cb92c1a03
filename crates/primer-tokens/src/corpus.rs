//! A corpus as tokens: a text file or a folder of them, split into a training part and a fixed
//! held-out tail (the last 5% of the bytes, cut at a character boundary), each encoded on its
//! own; and the validation set, the windows of the tail that are measured.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Codec, TokenError};

/// The share of a corpus held out for validation (its tail).
pub const VALIDATION_FRACTION: f64 = 0.05;

/// Windows of the spread validation set are measured in batches of this many.
pub const EVAL_BATCH: usize = 64;

/// A corpus that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {have} is too small (need at least {need} for training and validation windows)")]
    TooSmall { path: PathBuf, have: String, need: String },
    #[error("{path}: {source}")]
    Token { path: PathBuf, source: TokenError },
}

/// Reads a file, or every file of a folder (recursively, in name order, joined).
pub fn read(path: &Path) -> Result<Vec<u8>, CorpusError> {
    let mut bytes = Vec::new();
    read_into(path, &mut bytes)?;
    Ok(bytes)
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

/// Where the held-out tail begins: 5% of the bytes (at least 8 windows of `window + 1` bytes),
/// moved forward to the next character boundary so that both parts are text.
pub fn split_point(bytes: &[u8], window: usize) -> usize {
    let held = ((bytes.len() as f64 * VALIDATION_FRACTION) as usize).max(8 * (window + 1));
    let mut split = bytes.len().saturating_sub(held);
    // A UTF-8 continuation byte is 0b10xx_xxxx: step over them to the start of a character.
    while split < bytes.len() && (bytes[split] & 0xC0) == 0x80 {
        split += 1;
    }
    split
}

/// The training part of a corpus's bytes (what a tokenizer is trained on).
pub fn training_part(bytes: &[u8], window: usize) -> &[u8] {
    &bytes[..split_point(bytes, window)]
}

/// A corpus encoded: training tokens, held-out tokens, and the bytes each token stands for.
pub struct Tokens {
    pub train: Vec<u32>,
    pub validation: Vec<u32>,
    /// Bytes each token id decodes to (the vocabulary's size).
    pub token_bytes: Vec<u32>,
}

impl Tokens {
    /// Splits and encodes `bytes`; both parts must hold at least 8 windows.
    pub fn new(path: &Path, bytes: &[u8], codec: &Codec, window: usize) -> Result<Tokens, CorpusError> {
        let split = split_point(bytes, window);
        let need = 16 * (window + 1);
        if bytes.len() < need {
            return Err(CorpusError::TooSmall {
                path: path.into(),
                have: format!("{} bytes", bytes.len()),
                need: format!("{need} bytes"),
            });
        }
        let token = |source| CorpusError::Token { path: path.into(), source };
        let train = codec.encode(&bytes[..split]).map_err(token)?;
        let validation = codec.encode(&bytes[split..]).map_err(token)?;
        let least = train.len().min(validation.len());
        if least < 8 * (window + 1) {
            return Err(CorpusError::TooSmall {
                path: path.into(),
                have: format!("{} training and {} held-out tokens", train.len(), validation.len()),
                need: format!("{} tokens in each part", 8 * (window + 1)),
            });
        }
        let token_bytes = (0..codec.vocab() as u32).map(|i| codec.bytes_of(i)).collect();
        Ok(Tokens { train, validation, token_bytes })
    }

    pub fn vocab(&self) -> usize {
        self.token_bytes.len()
    }

    /// The windows of the held-out tail a rule measures.
    pub fn validation_set(&self, rule: ValidationRule, window: usize) -> ValidationSet {
        let per = window + 1;
        let fits = self.validation.len() / per;
        let offsets: Vec<usize> = match rule {
            ValidationRule::Leading { windows } => (0..windows.min(fits)).map(|i| i * per).collect(),
            ValidationRule::Spread { bytes } => {
                let mean = self.predicted_bytes(0, self.validation.len()) as f64 / self.validation.len() as f64;
                let mut n = ((bytes as f64 / (mean * window as f64)).ceil() as usize).clamp(2, fits);
                loop {
                    let offsets = spread(n, self.validation.len() - per);
                    let covered: u64 = offsets.iter().map(|&o| self.predicted_bytes(o + 1, o + per)).sum();
                    if covered >= bytes || n >= fits {
                        break offsets;
                    }
                    n += 1;
                }
            }
        };
        let bytes = offsets.iter().map(|&o| self.predicted_bytes(o + 1, o + per)).sum();
        ValidationSet { rule, tokens: (offsets.len() * window) as u64, bytes, offsets }
    }

    /// Bytes the held-out tokens `from..to` stand for.
    fn predicted_bytes(&self, from: usize, to: usize) -> u64 {
        self.validation[from..to].iter().map(|&t| self.token_bytes[t as usize] as u64).sum()
    }
}

/// `n` offsets from 0 to `last`, evenly spaced (rounded down).
fn spread(n: usize, last: usize) -> Vec<usize> {
    if n <= 1 {
        return vec![0];
    }
    (0..n).map(|k| (k as u128 * last as u128 / (n - 1) as u128) as usize).collect()
}

/// Which windows of the held-out tail are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationRule {
    /// Consecutive windows from the start of the tail (campaigns made before the spread set:
    /// `val_batches` x `batch` windows).
    Leading { windows: usize },
    /// Windows evenly spread from the start to the end of the tail, as few as cover at least
    /// this many bytes with their predicted tokens (all the tail holds if it is smaller).
    Spread { bytes: u64 },
}

/// The validation windows: offsets into the held-out tokens, and what they cover.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationSet {
    pub rule: ValidationRule,
    /// Each window is `window + 1` tokens from its offset; the last `window` are predicted.
    pub offsets: Vec<usize>,
    /// Predicted tokens in all.
    pub tokens: u64,
    /// Bytes the predicted tokens stand for.
    pub bytes: u64,
}

impl ValidationSet {
    /// Bytes per predicted token: bits per byte = nats per token / ln 2 / this.
    pub fn bytes_per_token(&self) -> f64 {
        self.bytes as f64 / self.tokens.max(1) as f64
    }

    /// What is stored with a campaign or study.
    pub fn summary(&self) -> ValidationSummary {
        ValidationSummary { windows: self.offsets.len(), tokens: self.tokens, bytes: self.bytes }
    }
}

/// A validation set's size, stored with a campaign: bits per byte from its losses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationSummary {
    pub windows: usize,
    /// Predicted tokens.
    pub tokens: u64,
    /// Bytes those tokens stand for.
    pub bytes: u64,
}

impl ValidationSummary {
    pub fn bytes_per_token(&self) -> f64 {
        self.bytes as f64 / self.tokens.max(1) as f64
    }

    /// Bits per byte of a mean validation loss in nats per token.
    pub fn bits_per_byte(&self, nats_per_token: f64) -> f64 {
        crate::bits_per_byte(nats_per_token, self.bytes_per_token())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenizerSpec;

    #[test]
    fn the_split_lands_on_a_character_and_spread_windows_cover_the_tail() {
        // 2,000 three-byte characters: 5% is byte 5,700, the start of a character.
        let text = "€".repeat(2000).into_bytes();
        let s = split_point(&text, 8);
        assert_eq!(s % 3, 0, "{s}");
        let odd: Vec<u8> = [b"a".as_slice(), &text].concat();
        assert_eq!((split_point(&odd, 8) - 1) % 3, 0, "one ASCII byte first shifts the boundary");

        let bytes: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let codec = Codec::new(&TokenizerSpec::bytes()).unwrap();
        let t = Tokens::new(Path::new("x"), &bytes, &codec, 64).unwrap();
        assert_eq!(t.validation.len(), 5000);
        let set = t.validation_set(ValidationRule::Spread { bytes: 1000 }, 64);
        assert_eq!(set.offsets.len(), 16, "ceil(1000 / 64) windows");
        assert_eq!(set.offsets[0], 0);
        assert_eq!(*set.offsets.last().unwrap(), 5000 - 65, "the last window ends at the tail's end");
        assert!(set.offsets.windows(2).all(|w| w[1] >= w[0] + 65), "no overlap");
        assert_eq!((set.tokens, set.bytes), (16 * 64, 16 * 64));
        // Asking for more than the tail holds takes every window it has.
        let all = t.validation_set(ValidationRule::Spread { bytes: 1 << 20 }, 64);
        assert_eq!(all.offsets.len(), 5000 / 65);
        let lead = t.validation_set(ValidationRule::Leading { windows: 4 }, 64);
        assert_eq!(lead.offsets, vec![0, 65, 130, 195]);
    }

    #[test]
    fn too_small_corpora_say_so() {
        let codec = Codec::new(&TokenizerSpec::bytes()).unwrap();
        let e = Tokens::new(Path::new("tiny.txt"), b"abc", &codec, 8).err().unwrap();
        assert!(e.to_string().starts_with("tiny.txt: 3 bytes is too small"), "{e}");
    }
}
