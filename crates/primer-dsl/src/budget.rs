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
        match unit {
            "steps" | "step" => Ok(Budget::Steps(value as u64)),
            "tokens" | "token" => Ok(Budget::Tokens(value as u64)),
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
        for b in [Budget::Steps(7), Budget::Flops(3e9), Budget::Seconds(2.5)] {
            assert_eq!(b.to_string().parse(), Ok(b));
        }
    }
}
