//! RFC 4180 rows: comma-separated, CRLF line ends, fields with a comma,
//! quote or line break quoted (quotes doubled). Free text that a
//! spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first)
//! is prefixed with `'`, so an export opened in Excel cannot execute what a
//! POS or a buyer typed.

use chrono::{DateTime, SecondsFormat, Utc};

/// One row being written; `end` closes it.
#[derive(Debug, Default)]
pub struct Row {
    line: String,
    fields: usize,
}

impl Row {
    pub fn new() -> Self {
        Self::default()
    }

    fn sep(&mut self) {
        if self.fields > 0 {
            self.line.push(',');
        }
        self.fields += 1;
    }

    fn push_escaped(&mut self, value: &str) {
        if value.contains([',', '"', '\r', '\n']) {
            self.line.push('"');
            self.line.push_str(&value.replace('"', "\"\""));
            self.line.push('"');
        } else {
            self.line.push_str(value);
        }
    }

    /// A value Puente made (ids, statuses, numbers, codes).
    pub fn plain(mut self, value: &str) -> Self {
        self.sep();
        self.push_escaped(value);
        self
    }

    /// Text someone else typed (descriptions, references, names).
    pub fn text(mut self, value: &str) -> Self {
        self.sep();
        if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            self.push_escaped(&format!("'{value}"));
        } else {
            self.push_escaped(value);
        }
        self
    }

    pub fn opt(self, value: Option<&str>) -> Self {
        self.plain(value.unwrap_or(""))
    }

    pub fn opt_text(self, value: Option<&str>) -> Self {
        self.text(value.unwrap_or(""))
    }

    pub fn number(self, value: impl std::fmt::Display) -> Self {
        self.plain(&value.to_string())
    }

    /// Minor units as a decimal amount in major units: 1550 → `15.50`.
    pub fn amount(self, minor: i64) -> Self {
        self.plain(&major_units(minor))
    }

    /// ISO 8601 in UTC, to the millisecond: `2026-03-01T12:00:00.000Z`.
    pub fn time(self, t: &DateTime<Utc>) -> Self {
        self.plain(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn opt_time(self, t: Option<&DateTime<Utc>>) -> Self {
        match t {
            Some(t) => self.time(t),
            None => self.plain(""),
        }
    }

    /// The finished line, CRLF-terminated, appended to `out`.
    pub fn end(self, out: &mut String) {
        out.push_str(&self.line);
        out.push_str("\r\n");
    }
}

/// The header line of `columns`.
pub fn header(columns: &[&str]) -> String {
    let mut out = String::new();
    columns
        .iter()
        .fold(Row::new(), |row, c| row.plain(c))
        .end(&mut out);
    out
}

pub fn major_units(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut out = String::new();
        Row::new()
            .plain("pi_1")
            .text("a, b")
            .text("say \"hi\"")
            .text("two\nlines")
            .amount(-1550)
            .opt(None)
            .end(&mut out);
        assert_eq!(
            out,
            "pi_1,\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\",-15.50,\r\n"
        );
        assert_eq!(header(&["id", "amount"]), "id,amount\r\n");
    }

    #[test]
    fn formulas_in_typed_text_are_defused_but_numbers_are_not() {
        let mut out = String::new();
        Row::new()
            .text("=HYPERLINK(\"http://x\")")
            .text("+1")
            .text("@SUM(A1)")
            .text("plain")
            .amount(-5)
            .end(&mut out);
        assert_eq!(
            out,
            "\"'=HYPERLINK(\"\"http://x\"\")\",'+1,'@SUM(A1),plain,-0.05\r\n"
        );
    }

    #[test]
    fn times_are_iso_utc() {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 5).unwrap();
        let mut out = String::new();
        Row::new().time(&t).opt_time(None).end(&mut out);
        assert_eq!(out, "2026-03-01T12:00:05.000Z,\r\n");
    }
}
