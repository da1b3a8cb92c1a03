//! Compute budgets for training one candidate: steps, tokens, FLOPs (the analytic count of
//! [`crate::analysis::Cost`], deterministic and machine-independent) or seconds. Parsed from
//! `500steps`, `2e6tokens`, `2e12flops`, `60s`.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How much training a candidate gets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    Steps(u64),
    Tokens(u64),
    /// Training FLOPs from the DSL's analytic count: deterministic and machine-independent.
    Flops(f64),
    /// Wall-clock seconds of training steps (as in the paper; rewards programs fast here).
    Seconds(f64),
}

impl FromStr for Budget {
    type Err = String;
    /// `500steps`, `2e6tokens`, `2e12flops`, `60s` (also `60seconds`).
    fn from_str(s: &str) -> Result<Budget, String> {
        let s = s.trim();
        let split = s.find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E').unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let value: f64 = number.parse().map_err(|_| {
            format!("`{s}`: expected a number then a unit (steps, tokens, flops, s), e.g. 500steps, 2e12flops, 60s")
        })?;
        if !(value.is_finite() && value > 0.0) {
            return Err(format!("`{s}`: the budget must be positive"));
        }
        let whole = |what: &str| {
            if value >= 1.0 && value.fract() == 0.0 && value < u64::MAX as f64 {
                Ok(value as u64)
            } else {
                Err(format!("`{s}`: {what} must be a whole number, at least 1"))
            }
        };
        match unit {
            "steps" | "step" => Ok(Budget::Steps(whole("steps")?)),
            "tokens" | "token" => Ok(Budget::Tokens(whole("tokens")?)),
            "flops" | "FLOPs" | "flop" => Ok(Budget::Flops(value)),
            "s" | "seconds" | "sec" => Ok(Budget::Seconds(value)),
            "" => Err(format!("`{s}`: missing the unit (steps, tokens, flops or s)")),
            u => Err(format!("`{s}`: unknown unit `{u}` (steps, tokens, flops or s)")),
        }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Budget::Steps(n) => write!(f, "{n}steps"),
            Budget::Tokens(n) => write!(f, "{n}tokens"),
            Budget::Flops(x) => write!(f, "{x:e}flops"),
            Budget::Seconds(s) => write!(f, "{s}s"),
        }
    }
}

/// Serde of a budget as its text (`2.5e11flops`), the form campaign files and stored campaign
/// specs write: `#[serde(with = "primer_dsl::budget::as_text")]`. Reading parses (a bad budget
/// is an error at its field); writing gives the canonical text ([`Budget`]'s `Display`).
pub mod as_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Budget;

    pub fn serialize<S: Serializer>(b: &Budget, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(b)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Budget, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_with_units_and_reject_bad_ones() {
        assert_eq!("500steps".parse(), Ok(Budget::Steps(500)));
        assert_eq!("2e6tokens".parse(), Ok(Budget::Tokens(2_000_000)));
        assert_eq!("2e12flops".parse(), Ok(Budget::Flops(2e12)));
        assert_eq!("60s".parse(), Ok(Budget::Seconds(60.0)));
        assert_eq!("1.5seconds".parse(), Ok(Budget::Seconds(1.5)));
        assert!("500".parse::<Budget>().unwrap_err().contains("missing the unit"));
        assert!("5parsecs".parse::<Budget>().unwrap_err().contains("unknown unit `parsecs`"));
        assert!("-3steps".parse::<Budget>().unwrap_err().contains("positive"));
        assert!("steps".parse::<Budget>().unwrap_err().contains("expected a number"));
        // Steps and tokens are counted: a fraction of one was read as 0 steps before.
        assert!("0.5steps".parse::<Budget>().unwrap_err().contains("whole number"));
        assert!("2.5tokens".parse::<Budget>().unwrap_err().contains("whole number"));
        for b in [Budget::Steps(7), Budget::Flops(3e9), Budget::Seconds(2.5)] {
            assert_eq!(b.to_string().parse(), Ok(b));
        }
    }

    #[test]
    fn budgets_as_text_round_trip_through_serde() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct T {
            #[serde(with = "as_text")]
            budget: Budget,
        }
        let t: T = serde_json::from_str(r#"{"budget": "2.5e11flops"}"#).unwrap();
        assert_eq!(t, T { budget: Budget::Flops(2.5e11) });
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"budget":"2.5e11flops"}"#);
        let e = serde_json::from_str::<T>(r#"{"budget": "5parsecs"}"#).unwrap_err().to_string();
        assert!(e.contains("unknown unit `parsecs`"), "{e}");
    }
}
