//! The tokenizer of a campaign or study, and the bytes each token stands for.
//!
//! - `bytes`: every byte is a token (256 tokens), as primer always did.
//! - `bpe:N`: byte-level BPE with N tokens, trained on the corpus's **training split only**
//!   with the `tokenizers` crate (no normalizer, no prefix space, so decoding is lossless;
//!   training breaks ties deterministically: the same text gives the same file).
//! - a `tokenizer.json` given by path: any byte-level tokenizer the `tokenizers` crate reads.
//!
//! A [`TokenizerSpec`] is what a campaign stores: the name it was chosen by, the vocabulary
//! size, the SHA-256 of the tokenizer file and the file itself (so that workers and exports use
//! exactly it). A [`Codec`] encodes text and knows how many bytes each token decodes to, which
//! is what turns a loss in nats per token into **bits per byte**, the unit that compares across
//! tokenizers.

pub mod corpus;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{Tokenizer, TokenizerBuilder};

/// A tokenizer that cannot be made or used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("tokenizer `{0}`: expected \"bytes\", \"bpe:N\" (N from 257 to 65,536) or the path of a tokenizer.json")]
    Choice(String),
    #[error("{path}: cannot read the tokenizer: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{what}: {message}")]
    Tokenizer { what: String, message: String },
    #[error(
        "{what}: token {id} `{token}` is not byte-level (each character one byte); primer counts the bytes a token stands for and needs a byte-level tokenizer"
    )]
    NotByteLevel { what: String, id: u32, token: String },
    #[error("{what}: the text is not UTF-8 at byte {at}; BPE tokenizers read text")]
    NotUtf8 { what: String, at: usize },
    #[error("{what}: {vocab} tokens do not fit primer's token ids (at most 65,536)")]
    TooLarge { what: String, vocab: usize },
    #[error("{what}: decoding the encoded text does not give the text back ({detail})")]
    Lossy { what: String, detail: String },
}

/// How a tokenizer is chosen in a campaign or study file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Bytes,
    /// Byte-level BPE with this many tokens, trained on the training split.
    Bpe(usize),
    /// A tokenizer.json.
    File(PathBuf),
}

impl Choice {
    /// `bytes`, `bpe:N`, or a path ending in `.json` (relative paths against `base`).
    pub fn parse(text: &str, base: &Path) -> Result<Choice, TokenError> {
        let t = text.trim();
        if t == "bytes" {
            return Ok(Choice::Bytes);
        }
        if let Some(n) = t.strip_prefix("bpe:") {
            let n: usize = n.trim().replace('_', "").parse().map_err(|_| TokenError::Choice(text.into()))?;
            if !(257..=65_536).contains(&n) {
                return Err(TokenError::Choice(text.into()));
            }
            return Ok(Choice::Bpe(n));
        }
        if t.ends_with(".json") {
            return Ok(Choice::File(base.join(t)));
        }
        Err(TokenError::Choice(text.into()))
    }
}

/// The tokenizer a campaign or study stores: enough to rebuild the exact [`Codec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerSpec {
    /// `bytes`, `bpe:N`, or the file's path as given.
    pub name: String,
    /// Tokens in the vocabulary (the model's embedding and output head).
    pub vocab: usize,
    /// SHA-256 of `json` (`bytes` for the byte tokenizer): part of the campaign's identity.
    pub sha256: String,
    /// The tokenizer.json itself (absent for bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
}

impl Default for TokenizerSpec {
    fn default() -> Self {
        TokenizerSpec::bytes()
    }
}

impl TokenizerSpec {
    pub fn bytes() -> TokenizerSpec {
        TokenizerSpec { name: "bytes".into(), vocab: 256, sha256: "bytes".into(), json: None }
    }

    pub fn is_bytes(&self) -> bool {
        self.json.is_none()
    }

    /// Makes the tokenizer a choice names: trains BPE on `training_text` (the training split
    /// only), or reads a file.
    pub fn make(choice: &Choice, training_text: &[u8]) -> Result<TokenizerSpec, TokenError> {
        match choice {
            Choice::Bytes => Ok(TokenizerSpec::bytes()),
            Choice::Bpe(n) => {
                let json = train_bpe(training_text, *n)?;
                TokenizerSpec::from_json(format!("bpe:{n}"), json)
            }
            Choice::File(path) => {
                let json = std::fs::read_to_string(path)
                    .map_err(|e| TokenError::Read { path: path.clone(), message: e.to_string() })?;
                TokenizerSpec::from_json(path.display().to_string(), json)
            }
        }
    }

    /// A spec from a tokenizer.json's text (checked: it loads and is byte-level).
    pub fn from_json(name: String, json: String) -> Result<TokenizerSpec, TokenError> {
        let sha256 = hex::encode(Sha256::digest(json.as_bytes()));
        let spec = TokenizerSpec { name, vocab: 0, sha256, json: Some(json) };
        let codec = Codec::new(&spec)?;
        Ok(TokenizerSpec { vocab: codec.vocab(), ..spec })
    }

    /// A short description: `bpe:4096 (sha256 1a2b3c4d)`.
    pub fn describe(&self) -> String {
        if self.is_bytes() { "bytes".into() } else { format!("{} (sha256 {})", self.name, &self.sha256[..8]) }
    }
}

/// Trains byte-level BPE with `vocab` tokens on `text`; returns the tokenizer.json text.
pub fn train_bpe(text: &[u8], vocab: usize) -> Result<String, TokenError> {
    let what = format!("bpe:{vocab}");
    let text =
        std::str::from_utf8(text).map_err(|e| TokenError::NotUtf8 { what: what.clone(), at: e.valid_up_to() })?;
    let fail = |e: tokenizers::Error| TokenError::Tokenizer { what: what.clone(), message: e.to_string() };
    let alphabet: HashSet<char> = ByteLevel::alphabet().into_iter().collect();
    let mut trainer = BpeTrainerBuilder::new()
        .show_progress(false)
        .vocab_size(vocab)
        .min_frequency(0)
        .initial_alphabet(alphabet)
        .build();
    let level = ByteLevel::default().add_prefix_space(false).trim_offsets(false);
    let mut tokenizer = TokenizerBuilder::<BPE, NormalizerWrapper, ByteLevel, ByteLevel, ByteLevel>::new()
        .with_model(BPE::default())
        .with_normalizer(None)
        .with_pre_tokenizer(Some(level))
        .with_post_processor(None)
        .with_decoder(Some(level))
        .build()
        .map_err(fail)?;
    // One sequence per line (with its newline): the pre-tokenizer splits words within them.
    tokenizer.train(&mut trainer, text.split_inclusive('\n')).map_err(fail)?;
    tokenizer.to_string(false).map_err(fail)
}

/// Encodes text into token ids and knows the bytes each token decodes to.
pub enum Codec {
    Bytes,
    Bpe {
        tokenizer: Box<Tokenizer>,
        /// Bytes each token id decodes to.
        token_bytes: Vec<u32>,
        name: String,
    },
}

impl Codec {
    pub fn new(spec: &TokenizerSpec) -> Result<Codec, TokenError> {
        let Some(json) = &spec.json else { return Ok(Codec::Bytes) };
        let what = spec.name.clone();
        let tokenizer = Tokenizer::from_str(json)
            .map_err(|e| TokenError::Tokenizer { what: what.clone(), message: e.to_string() })?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > 65_536 {
            return Err(TokenError::TooLarge { what, vocab });
        }
        let alphabet = ByteLevel::alphabet();
        let mut token_bytes = vec![0u32; vocab];
        for (id, slot) in token_bytes.iter_mut().enumerate() {
            let id = id as u32;
            let Some(token) = tokenizer.id_to_token(id) else { continue };
            if !token.chars().all(|c| alphabet.contains(&c)) {
                return Err(TokenError::NotByteLevel { what, id, token });
            }
            *slot = token.chars().count() as u32;
        }
        Ok(Codec::Bpe { tokenizer: Box::new(tokenizer), token_bytes, name: what })
    }

    /// Tokens in the vocabulary.
    pub fn vocab(&self) -> usize {
        match self {
            Codec::Bytes => 256,
            Codec::Bpe { token_bytes, .. } => token_bytes.len(),
        }
    }

    /// The bytes token `id` decodes to.
    pub fn bytes_of(&self, id: u32) -> u32 {
        match self {
            Codec::Bytes => 1,
            Codec::Bpe { token_bytes, .. } => token_bytes.get(id as usize).copied().unwrap_or(0),
        }
    }

    /// Encodes `text`; checks that the tokens stand for exactly its bytes (lossless).
    pub fn encode(&self, text: &[u8]) -> Result<Vec<u32>, TokenError> {
        let Codec::Bpe { tokenizer, name, .. } = self else {
            return Ok(text.iter().map(|&b| b as u32).collect());
        };
        let what = name.clone();
        let s =
            std::str::from_utf8(text).map_err(|e| TokenError::NotUtf8 { what: what.clone(), at: e.valid_up_to() })?;
        let ids = tokenizer
            .encode(s, false)
            .map_err(|e| TokenError::Tokenizer { what: what.clone(), message: e.to_string() })?
            .get_ids()
            .to_vec();
        let covered: u64 = ids.iter().map(|&i| self.bytes_of(i) as u64).sum();
        if covered != text.len() as u64 {
            return Err(TokenError::Lossy {
                what,
                detail: format!("{} tokens stand for {covered} bytes, the text has {}", ids.len(), text.len()),
            });
        }
        Ok(ids)
    }

    /// Decodes token ids to bytes.
    pub fn decode(&self, ids: &[u32]) -> Result<Vec<u8>, TokenError> {
        match self {
            Codec::Bytes => Ok(ids.iter().map(|&i| i as u8).collect()),
            Codec::Bpe { tokenizer, name, .. } => tokenizer
                .decode(ids, false)
                .map(String::into_bytes)
                .map_err(|e| TokenError::Tokenizer { what: name.clone(), message: e.to_string() }),
        }
    }
}

/// Bits per byte from a mean loss in nats per token over tokens that stand for
/// `bytes_per_token` bytes each on average.
pub fn bits_per_byte(nats_per_token: f64, bytes_per_token: f64) -> f64 {
    nats_per_token / std::f64::consts::LN_2 / bytes_per_token
}
