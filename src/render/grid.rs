//! Text laid out for a terminal of a given width: bordered tables whose columns share the
//! width, and wrapped paragraphs. Nothing drawn here is wider than the width it is given
//! unless a single unbreakable piece (a column that never wraps) is.
//!
//! Identifiers never break inside a word: text wraps between words, and ARNs, URIs and keys
//! after `/`, `:` (not before a digit, so `10:00:06Z` stays whole) and `,` first; only a piece
//! still too long for its column breaks after `-`, `_`, `.` or `=`, and only one too long for
//! that breaks anywhere. Control characters in evidence text are shown escaped (`\x1b`), so a
//! log file cannot drive the terminal.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthStr;

/// How a column's text may wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrap {
    /// Row numbers, times, statuses: lines are kept whole.
    Keep,
    /// Prose, ARNs, URIs: wraps at the break points above.
    Wrap,
}

/// A colour for a cell (drawn only when colour is on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tint {
    Green,
    Red,
    Yellow,
}

impl Tint {
    /// The ANSI colour sequence (reset with `\x1b[0m`).
    pub fn code(self) -> &'static str {
        match self {
            Tint::Green => "\x1b[32m",
            Tint::Red => "\x1b[31m",
            Tint::Yellow => "\x1b[33m",
        }
    }

    /// The colour of a status label (`PASS`, `FAIL`, `INCONCLUSIVE`, optionally followed by
    /// more words).
    pub fn of_status(label: &str) -> Option<Tint> {
        match label.split([' ', '\n']).next().unwrap_or_default() {
            "PASS" => Some(Tint::Green),
            "FAIL" => Some(Tint::Red),
            "INCONCLUSIVE" => Some(Tint::Yellow),
            _ => None,
        }
    }
}

/// A bordered table.
pub struct Grid {
    header: Vec<String>,
    wraps: Vec<Wrap>,
    rows: Vec<Vec<(String, Option<Tint>)>>,
}

impl Grid {
    /// A table with these columns.
    pub fn new(columns: &[(&str, Wrap)]) -> Grid {
        Grid {
            header: columns.iter().map(|(h, _)| clean(h)).collect(),
            wraps: columns.iter().map(|(_, w)| *w).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (one cell per column; `\n` separates lines within a cell).
    pub fn row(&mut self, cells: Vec<(String, Option<Tint>)>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows
            .push(cells.into_iter().map(|(t, c)| (clean(&t), c)).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table drawn in at most `width` columns.
    pub fn render(&self, width: usize, color: bool) -> String {
        let widths = self.widths(width);
        let mut out = String::new();
        rule(&mut out, &widths, ('┌', '─', '┬', '┐'));
        self.line(
            &mut out,
            &widths,
            self.header.iter().map(|h| (h, None)),
            color,
        );
        rule(&mut out, &widths, ('╞', '═', '╪', '╡'));
        for r in &self.rows {
            self.line(&mut out, &widths, r.iter().map(|(t, c)| (t, *c)), color);
        }
        rule(&mut out, &widths, ('└', '─', '┴', '┘'));
        out
    }

    /// One table row: every cell wrapped to its column, as many text lines as the tallest.
    fn line<'a>(
        &self,
        out: &mut String,
        widths: &[usize],
        cells: impl Iterator<Item = (&'a String, Option<Tint>)>,
        color: bool,
    ) {
        let cells: Vec<(Vec<String>, Option<Tint>)> = cells
            .zip(widths.iter().zip(&self.wraps))
            .map(|((text, tint), (&w, &wrap))| (wrap_cell(text, w, wrap), tint))
            .collect();
        let height = cells.iter().map(|(l, _)| l.len()).max().unwrap_or(1);
        for i in 0..height {
            out.push('│');
            for (c, ((lines, tint), &w)) in cells.iter().zip(widths).enumerate() {
                let text = lines.get(i).map(String::as_str).unwrap_or_default();
                let pad = w.saturating_sub(text.width());
                out.push(' ');
                match tint.filter(|_| color && !text.is_empty()) {
                    Some(t) => {
                        let _ = write!(out, "{}{text}\x1b[0m", t.code());
                    }
                    None => out.push_str(text),
                }
                out.extend(std::iter::repeat_n(' ', pad));
                out.push_str(if c + 1 == widths.len() {
                    " │"
                } else {
                    " ┆"
                });
            }
            out.push('\n');
        }
    }

    /// Each column's width: its content's natural width when everything fits, else each gets
    /// its widest unbreakable piece and the rest is shared by what the others still need.
    fn widths(&self, width: usize) -> Vec<usize> {
        let n = self.header.len();
        let avail = width.saturating_sub(3 * n + 1);
        let cells = |c: usize| {
            std::iter::once(&self.header[c]).chain(self.rows.iter().map(move |r| &r[c].0))
        };
        let natural: Vec<usize> = (0..n)
            .map(|c| {
                cells(c)
                    .flat_map(|t| t.lines())
                    .map(|l| l.width())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        if natural.iter().sum::<usize>() <= avail {
            return natural;
        }
        let least = |c: usize, level: usize| -> usize {
            match self.wraps[c] {
                Wrap::Keep => natural[c],
                Wrap::Wrap => cells(c)
                    .flat_map(|t| t.lines())
                    .flat_map(|l| pieces(l, level))
                    .map(|p| p.trim_end().width())
                    .max()
                    .unwrap_or(0),
            }
        };
        // Each column's widest piece at the preferred break points; while that is too wide,
        // the column with the widest such piece takes the finer points, and when those do not
        // fit either, the wrapping columns share what is left (breaking anywhere).
        let mut level = vec![0; n];
        let mut min: Vec<usize> = (0..n).map(|c| least(c, 0)).collect();
        while min.iter().sum::<usize>() > avail {
            let Some(c) = (0..n)
                .filter(|&c| self.wraps[c] == Wrap::Wrap && level[c] == 0)
                .max_by_key(|&c| min[c])
            else {
                break;
            };
            level[c] = 1;
            min[c] = least(c, 1);
        }
        if min.iter().sum::<usize>() > avail {
            let keep: usize = (0..n)
                .filter(|&c| self.wraps[c] == Wrap::Keep)
                .map(|c| natural[c])
                .sum();
            let wrapping = self
                .wraps
                .iter()
                .filter(|w| **w == Wrap::Wrap)
                .count()
                .max(1);
            let share = (avail.saturating_sub(keep) / wrapping).max(4);
            for (m, wrap) in min.iter_mut().zip(&self.wraps) {
                if *wrap == Wrap::Wrap {
                    *m = (*m).min(share);
                }
            }
        }
        let mut w = min.clone();
        let mut extra = avail.saturating_sub(w.iter().sum());
        // Columns that can have their whole content with what is left get it, the smallest
        // need first; what remains goes one column at a time to the one furthest (relatively)
        // from its natural width.
        let mut needy: Vec<usize> = (0..n).filter(|&c| w[c] < natural[c]).collect();
        needy.sort_by_key(|&c| natural[c] - w[c]);
        for c in needy {
            let need = natural[c] - w[c];
            if need <= extra {
                w[c] = natural[c];
                extra -= need;
            }
        }
        while extra > 0 {
            let Some(c) = (0..n)
                .filter(|&c| w[c] < natural[c])
                .max_by_key(|&c| (natural[c] - w[c]) * 1000 / natural[c].max(1))
            else {
                break;
            };
            w[c] += 1;
            extra -= 1;
        }
        w
    }
}

fn rule(out: &mut String, widths: &[usize], (left, fill, cross, right): (char, char, char, char)) {
    out.push(left);
    for (i, w) in widths.iter().enumerate() {
        out.extend(std::iter::repeat_n(fill, w + 2));
        out.push(if i + 1 == widths.len() { right } else { cross });
    }
    out.push('\n');
}

/// A cell's lines wrapped to `width`.
fn wrap_cell(text: &str, width: usize, wrap: Wrap) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.split('\n') {
        match wrap {
            Wrap::Keep => out.push(line.to_owned()),
            Wrap::Wrap => out.extend(wrap_line(line, width)),
        }
    }
    out
}

/// One line wrapped to `width` at the break points (see the module).
pub fn wrap_line(line: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut cur = String::new();
    fill(line, width, 0, &mut cur, &mut lines);
    if !cur.trim_end().is_empty() || lines.is_empty() {
        lines.push(cur.trim_end().to_owned());
    }
    lines
}

/// Adds `text` to the line being built, breaking at `level`'s points (finer for a piece that
/// does not fit a line on its own).
fn fill(text: &str, width: usize, level: usize, cur: &mut String, lines: &mut Vec<String>) {
    for piece in pieces(text, level) {
        let w = piece.trim_end().width();
        if cur.width() + w <= width {
            cur.push_str(piece);
            continue;
        }
        if !cur.trim_end().is_empty() {
            lines.push(cur.trim_end().to_owned());
            cur.clear();
        }
        if w <= width {
            cur.push_str(piece.trim_start());
        } else {
            fill(piece.trim_start(), width, level + 1, cur, lines);
        }
    }
}

/// `text` cut after each break point of `level`: 0 spaces, `/`, `,` and `:` not before a
/// digit; 1 also `-`, `_`, `.`, `=`; 2 every character.
fn pieces(text: &str, level: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let after = i + c.len_utf8();
        let breaks = match c {
            ' ' => next != Some(' '),
            '/' | ',' => true,
            ':' => !next.is_some_and(|n| n.is_ascii_digit()),
            '-' | '_' | '.' | '=' => level >= 1,
            _ => level >= 2,
        };
        if breaks {
            out.push(&text[start..after]);
            start = after;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// `text` as a paragraph in `width` columns: the first line after `first`, the rest after
/// `rest` (a hanging indent).
pub fn para(out: &mut String, first: &str, rest: &str, text: &str, width: usize) {
    let text = clean(text);
    for (n, line) in text.split('\n').enumerate() {
        let lead = if n == 0 { first } else { rest };
        let mut prefix = lead;
        for l in wrap_line(line, width.saturating_sub(lead.width().max(rest.width()))) {
            let _ = writeln!(out, "{prefix}{l}");
            prefix = rest;
        }
    }
}

/// Evidence text as shown: control characters (but newlines) escaped.
pub fn clean(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push(' '),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_wrap_after_separators_never_inside_a_word() {
        let arn = "arn:aws:sts::111122223333:assumed-role/DocPipeline/etl-worker";
        let lines = wrap_line(arn, 30);
        assert_eq!(
            lines,
            [
                "arn:aws:sts::111122223333:",
                "assumed-role/DocPipeline/",
                "etl-worker"
            ]
        );
        assert_eq!(
            wrap_line("at 2026-11-20T10:00:06Z by x", 22),
            ["at", "2026-11-20T10:00:06Z", "by x"]
        );
    }

    #[test]
    fn a_piece_longer_than_the_line_breaks_at_finer_points_then_anywhere() {
        assert_eq!(
            wrap_line("key/1234abcd-12ab-34cd-56ef-1234567890ab", 20),
            ["key/", "1234abcd-12ab-34cd-", "56ef-1234567890ab"]
        );
        assert_eq!(wrap_line("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap_line("", 4), [""]);
    }

    #[test]
    fn prose_wraps_between_words() {
        assert_eq!(
            wrap_line("no result object uses the aws/s3 key", 14),
            ["no result", "object uses", "the aws/s3 key"]
        );
    }

    #[test]
    fn a_table_never_exceeds_its_width_and_keeps_kept_columns_whole() {
        let mut g = Grid::new(&[
            ("#", Wrap::Keep),
            ("Time", Wrap::Keep),
            ("Actor", Wrap::Wrap),
        ]);
        g.row(vec![
            ("12".into(), None),
            ("2026-11-20T10:00:06Z".into(), None),
            (
                "by arn:aws:sts::111122223333:assumed-role/DocPipeline/etl-worker".into(),
                Some(Tint::Red),
            ),
        ]);
        for width in [40, 60, 80, 100] {
            let text = g.render(width, false);
            for line in text.lines() {
                assert!(line.width() <= width, "{width}: {line}");
            }
            assert!(text.contains("2026-11-20T10:00:06Z"), "{text}");
        }
        let wide = g.render(200, false);
        assert!(wide.lines().all(|l| l.width() < 100), "{wide}");
        assert!(g.render(80, true).contains("\x1b[31m"));
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(clean("a\x1b[31mb\nc\u{7}"), "a\\x1b[31mb\nc\\x07");
        let mut g = Grid::new(&[("x", Wrap::Wrap)]);
        g.row(vec![("\x1b]0;owned\x07".into(), None)]);
        assert!(!g.render(40, false).contains('\x1b'));
    }
}
