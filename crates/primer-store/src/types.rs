//! The enums stored as text (a candidate's status, an evaluation's outcome), the NULL-safe
//! real to bind, and the helpers every module uses (a SQLite URL's file, the clock).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Where a candidate is in its life (the `status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for a worker.
    Pending,
    /// Leased by a worker.
    Running,
    /// Evaluated, with a fitness.
    Done,
    /// Evaluated without a fitness (invalid, diverged, out of memory, or its workers died).
    Failed,
}

impl Status {
    /// The stored (and printed) name: `pending`, `running`, `done`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a candidate's evaluation (or a retraining) ended (the `outcome` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Trained to the end of the budget.
    Finished,
    /// Stopped below the median at a hurdle.
    Stopped,
    /// Not a valid program at the campaign's model size.
    Invalid,
    /// The training loss diverged.
    Diverged,
    /// The model does not fit in memory.
    OutOfMemory,
    /// A functionally equal program's fitness, reused (dedup).
    Reused,
    /// Its workers died or stopped answering too often.
    Failed,
}

impl Outcome {
    /// The stored (and printed) name: `finished`, `out_of_memory`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Finished => "finished",
            Outcome::Stopped => "stopped",
            Outcome::Invalid => "invalid",
            Outcome::Diverged => "diverged",
            Outcome::OutOfMemory => "out_of_memory",
            Outcome::Reused => "reused",
            Outcome::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stores an enum as its name (a text column) on every backend, through sqlx's `Any` driver.
macro_rules! text_enum {
    ($t:ty, $what:literal, [$($v:expr),+]) => {
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> std::result::Result<Self, String> {
                [$($v),+].into_iter().find(|v| v.as_str() == s).ok_or_else(|| format!("unknown {} `{s}` in the store", $what))
            }
        }
        impl sqlx::Type<sqlx::Any> for $t {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <str as sqlx::Type<sqlx::Any>>::type_info()
            }
        }
        impl<'q> sqlx::Encode<'q, sqlx::Any> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> std::result::Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Any>>::encode(self.as_str(), buf)
            }
        }
        impl<'r> sqlx::Decode<'r, sqlx::Any> for $t {
            fn decode(v: sqlx::any::AnyValueRef<'r>) -> std::result::Result<Self, sqlx::error::BoxDynError> {
                Ok(<String as sqlx::Decode<'r, sqlx::Any>>::decode(v)?.parse::<$t>()?)
            }
        }
    };
}

text_enum!(Status, "status", [Status::Pending, Status::Running, Status::Done, Status::Failed]);

text_enum!(
    Outcome,
    "outcome",
    [
        Outcome::Finished,
        Outcome::Stopped,
        Outcome::Invalid,
        Outcome::Diverged,
        Outcome::OutOfMemory,
        Outcome::Reused,
        Outcome::Failed
    ]
);

/// An `Option<f64>` to bind. sqlx 0.8.6's `Any` driver sends a NULL double to PostgreSQL as
/// float4 (its table maps a null Double to f32, a null Real to f64), and a statement prepared
/// with that NULL then rejects a real double in the same place ("incorrect binary data
/// format"): this sends NULL as float8.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OptF64(pub Option<f64>);

impl sqlx::Type<sqlx::Any> for OptF64 {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <f64 as sqlx::Type<sqlx::Any>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Any> for OptF64 {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> std::result::Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        match self.0 {
            Some(v) => <f64 as sqlx::Encode<'q, sqlx::Any>>::encode_by_ref(&v, buf),
            // Encoded as Real, which that table sends as a float8 NULL.
            None => <Option<f32> as sqlx::Encode<'q, sqlx::Any>>::encode_by_ref(&None, buf),
        }
    }
}

/// The file of a `sqlite://PATH` (or `sqlite:PATH`) store URL, query string removed; `None` for
/// other URLs. The one place that knows how a store URL names its file.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty()).then(|| std::path::PathBuf::from(path))
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}
