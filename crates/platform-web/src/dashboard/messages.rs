//! The UI texts: `i18n/messages.tsv`, one line per key with its Spanish,
//! Portuguese (Brazil) and English text, tab-separated. Compiled into the
//! binary and sorted by key once.

use std::sync::LazyLock;

const TSV: &str = include_str!("../../i18n/messages.tsv");

pub static MESSAGES: LazyLock<Vec<(&'static str, [&'static str; 3])>> = LazyLock::new(|| {
    let mut rows: Vec<(&str, [&str; 3])> = TSV
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?, [f.next()?, f.next()?, f.next()?]))
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    rows
});

#[cfg(test)]
mod tests {
    #[test]
    fn every_line_has_a_key_and_three_texts() {
        for (i, line) in super::TSV.lines().enumerate() {
            assert_eq!(line.split('\t').count(), 4, "line {}: {line}", i + 1);
        }
    }
}
