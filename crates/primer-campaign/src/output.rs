//! What the commands share for printing: the output format, CSV quoting, digit grouping,
//! optional values.

/// Output format of commands that list or report things (`--format`; `primer_args::flags::format`
/// parses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
    Csv,
}

impl Format {
    /// Every format, by the name `--format` takes.
    pub const NAMES: [(&str, Format); 3] = [("table", Format::Table), ("json", Format::Json), ("csv", Format::Csv)];
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        Format::NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|&(_, f)| f)
            .ok_or_else(|| format!("`{s}`: expected table, json or csv"))
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = Format::NAMES.iter().find(|(_, x)| x == self).map_or("table", |(n, _)| n);
        f.write_str(name)
    }
}

/// Quotes a CSV field when it needs it.
pub fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// One CSV line of fields, each quoted by [`csv`] when it needs it.
pub fn csv_line(fields: &[String]) -> String {
    fields.iter().map(|f| csv(f)).collect::<Vec<_>>().join(",")
}

/// 1234567 -> "1,234,567".
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A loss to 4 decimals, or `-`.
pub fn loss(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.4}"))
}

/// An optional value, or nothing.
pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// Seconds as H:MM:SS.
pub fn clock(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
