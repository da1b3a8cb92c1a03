//! What the commands share for printing: the output format, CSV quoting, digit grouping,
//! optional values.

/// Output format of commands that list or report things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
    Csv,
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

/// An optional value, or nothing.
pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}
