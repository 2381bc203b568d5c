//! Tables for people (`status`, `trash list`, `trash purge`), fitted to a
//! width (SPEC §12: tables fit the terminal). Each column says how it gives
//! up room ([`Fit`]): numbers, sizes and sides never wrap; sentences, times
//! and rules wrap at spaces; paths wrap after a `/` and stay whole (they are
//! what the admin types into `resolve` and `trash restore`). The room left
//! after the columns that never wrap is shared out evenly: a short column
//! keeps its width, the long ones get equal shares above their minimum.
//!
//! Invariants:
//! - with a width, no line is wider than it (in terminal columns);
//! - every cell is escaped ([`crate::human::escape`]): a control character
//!   in a name never reaches the terminal;
//! - when even the minimum widths do not fit, each row is drawn as a block
//!   of `header: value` lines (as `psql \x` does), never as cells one
//!   letter wide;
//! - without a width (a pipe and no `COLUMNS`) nothing is wrapped: a file
//!   or a `findstr` reads whole lines best (scripts should read `--json`).

use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use std::fmt;

/// How a column gives up room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Never wrapped (numbers, sizes, sides, short words): as wide as its widest cell.
    Whole,
    /// Wrapped at spaces, at least this wide (or its longest word, up to
    /// [`WORD_CAP`]); a longer word is cut.
    Words(usize),
    /// A path, whole, wrapped after a `/` or a space, at least this wide; a
    /// longer name is cut.
    Path(usize),
}

/// A cell's text: one line of data, escaped (a newline in a file name is
/// shown as `\n`, never breaks the row), or several ([`Cell::lines`]).
#[derive(Debug, Clone)]
pub struct Cell(Vec<String>);

impl Cell {
    /// A cell of several lines, each escaped.
    pub fn lines<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> Self {
        Self(
            lines
                .into_iter()
                .map(|l| crate::human::escape(l.as_ref()).into_owned())
                .collect(),
        )
    }
}

impl<S: AsRef<str>> From<S> for Cell {
    fn from(text: S) -> Self {
        Self::lines([text])
    }
}

/// A word longer than this does not widen the minimum of its column (it is cut).
const WORD_CAP: usize = 15;

/// A table of text cells, drawn fitted to a width.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    cols: Vec<(String, Fit)>,
    rows: Vec<Vec<String>>,
}

/// Terminal columns a text takes (wide characters count two).
fn cols_of(s: &str) -> usize {
    console::measure_text_width(s)
}

/// The widest line of a text.
fn widest(s: &str) -> usize {
    s.lines().map(cols_of).max().unwrap_or(0)
}

/// The longest word of a text.
fn longest_word(s: &str) -> usize {
    s.split([' ', '\n']).map(cols_of).max().unwrap_or(0)
}

impl Grid {
    /// A table with these headers and their fits.
    #[must_use]
    pub fn new(cols: &[(&str, Fit)]) -> Self {
        Self {
            cols: cols.iter().map(|(h, f)| ((*h).to_owned(), *f)).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty).
    pub fn row<C: Into<Cell>>(&mut self, cells: impl IntoIterator<Item = C>) {
        let mut row: Vec<String> = cells.into_iter().map(|c| c.into().0.join("\n")).collect();
        row.resize(self.cols.len(), String::new());
        self.rows.push(row);
    }

    /// The table at `width` columns, or unwrapped (`None`).
    #[must_use]
    pub fn render(&self, width: Option<usize>) -> String {
        let natural = self.natural();
        let Some(width) = width else {
            return self.draw(&natural);
        };
        // Borders and padding: 3 per column and 1.
        let avail = width.saturating_sub(3 * self.cols.len() + 1);
        match self.widths(&natural, avail) {
            Some(w) => self.draw(&w),
            None => self.blocks(width),
        }
    }

    /// Each column's width unwrapped.
    fn natural(&self) -> Vec<usize> {
        (0..self.cols.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| widest(&r[i]))
                    .chain([widest(&self.cols[i].0)])
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    /// The narrowest a column gets before the table becomes blocks.
    fn minimum(&self, i: usize, natural: usize) -> usize {
        let (header, fit) = &self.cols[i];
        let header_word = longest_word(header);
        let min = match fit {
            Fit::Whole => return natural,
            Fit::Words(m) => {
                let word = self.rows.iter().map(|r| longest_word(&r[i])).max();
                (*m).max(word.unwrap_or(0).min(WORD_CAP))
            }
            Fit::Path(m) => *m,
        };
        natural.min(min.max(header_word))
    }

    /// Column widths that fit `avail` (borders aside): unwrapped when that
    /// fits; else each column at least its minimum and the rest shared
    /// evenly (water-filling); `None` when the minimums do not fit.
    fn widths(&self, natural: &[usize], avail: usize) -> Option<Vec<usize>> {
        if natural.iter().sum::<usize>() <= avail {
            return Some(natural.to_vec());
        }
        let min: Vec<usize> = (0..natural.len())
            .map(|i| self.minimum(i, natural[i]))
            .collect();
        if min.iter().sum::<usize>() > avail {
            return None;
        }
        // A column that wraps narrower than its share (a time breaks
        // between date and time) gives the rest back to the others.
        let mut cap = natural.to_vec();
        let mut w = fill(&min, &cap, avail);
        for _ in 0..3 {
            let used: Vec<usize> = (0..w.len()).map(|i| self.used(i, w[i])).collect();
            if used == w {
                break;
            }
            for i in 0..w.len() {
                if used[i] < w[i] {
                    cap[i] = used[i].max(min[i]);
                }
            }
            w = fill(&min, &cap, avail);
        }
        Some(w)
    }

    /// The columns a column's cells and header take at width `w`.
    fn used(&self, i: usize, w: usize) -> usize {
        let (header, fit) = &self.cols[i];
        self.rows
            .iter()
            .map(|r| widest(&Self::fit(&r[i], *fit, w)))
            .chain([widest(&wrap(header, w, &[' ']))])
            .max()
            .unwrap_or(0)
    }

    /// A cell's text at `w` columns.
    fn fit(text: &str, fit: Fit, w: usize) -> String {
        match fit {
            Fit::Whole if widest(text) <= w => text.to_owned(),
            Fit::Whole | Fit::Words(_) => wrap(text, w, &[' ']),
            Fit::Path(_) => wrap(text, w, &['/', ' ']),
        }
    }

    /// The table with these column widths (comfy-table draws the frame).
    fn draw(&self, w: &[usize]) -> String {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(
            self.cols
                .iter()
                .zip(w)
                .map(|((h, _), w)| wrap(h, *w, &[' '])),
        );
        for r in &self.rows {
            t.add_row(
                r.iter()
                    .zip(&self.cols)
                    .zip(w)
                    .map(|((c, (_, fit)), w)| Self::fit(c, *fit, *w)),
            );
        }
        t.to_string()
    }

    /// Each row as a block of `header: value` lines, blocks apart by an
    /// empty line: for a width too narrow for the columns side by side.
    fn blocks(&self, width: usize) -> String {
        let label = self.cols.iter().map(|(h, _)| cols_of(h)).max().unwrap_or(0) + 1;
        // Values beside their labels, or below them when that leaves too little.
        let (indent, value_w) = if width.saturating_sub(label + 1) >= 12 {
            (label + 1, width - label - 1)
        } else {
            (2, width.saturating_sub(2).max(8))
        };
        let mut out = Vec::new();
        for r in &self.rows {
            if !out.is_empty() {
                out.push(String::new());
            }
            for (cell, (h, fit)) in r.iter().zip(&self.cols) {
                let head = format!("{h}:");
                let text = Self::fit(cell, *fit, value_w);
                let mut lines = text.lines();
                if indent == 2 {
                    out.push(head);
                } else {
                    let first = lines.next().unwrap_or_default();
                    out.push(format!("{head:<label$} {first}").trim_end().to_owned());
                }
                out.extend(lines.map(|l| format!("{}{l}", " ".repeat(indent))));
            }
        }
        out.join("\n")
    }
}

impl fmt::Display for Grid {
    /// Fitted to stdout ([`super::fitted_width`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(super::fitted_width()))
    }
}

/// Widths between `min` and `cap` summing to at most `avail` (which the
/// minimums fit): every column raised to one level, as high as fits
/// (water-filling), what is left a column each to those still short.
fn fill(min: &[usize], cap: &[usize], avail: usize) -> Vec<usize> {
    let at = |level: usize| -> Vec<usize> {
        min.iter()
            .zip(cap)
            .map(|(lo, hi)| level.clamp(*lo, (*hi).max(*lo)))
            .collect()
    };
    // The highest level whose widths fit.
    let (mut lo, mut hi) = (0, cap.iter().copied().max().unwrap_or(0));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if at(mid).iter().sum::<usize>() <= avail {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut w = at(lo);
    let mut left = avail.saturating_sub(w.iter().sum::<usize>());
    for (wi, c) in w.iter_mut().zip(cap) {
        if left > 0 && *wi < *c {
            *wi += 1;
            left -= 1;
        }
    }
    w
}

/// Wraps each line of `text` to `w` columns, breaking after any of
/// `breaks` (a space at the end of a line is dropped); a piece wider than
/// `w` is cut.
fn wrap(text: &str, w: usize, breaks: &[char]) -> String {
    let w = w.max(1);
    let mut out: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let mut cur = String::new();
        for piece in line.split_inclusive(breaks) {
            if cols_of(&cur) + cols_of(piece.trim_end_matches(' ')) <= w {
                cur.push_str(piece);
                continue;
            }
            if !cur.is_empty() {
                out.push(cur.trim_end_matches(' ').to_owned());
                cur = String::new();
            }
            // Too wide alone: cut it into lines of `w` columns.
            for c in piece.chars() {
                let mut b = [0; 4];
                if !cur.is_empty() && cols_of(&cur) + cols_of(c.encode_utf8(&mut b)) > w {
                    out.push(std::mem::take(&mut cur));
                }
                cur.push(c);
            }
        }
        out.push(cur.trim_end_matches(' ').to_owned());
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widest_line(s: &str) -> usize {
        s.lines().map(|l| l.chars().count()).max().unwrap_or(0)
    }

    #[test]
    fn paths_wrap_after_a_slash_sentences_at_spaces_long_words_are_cut() {
        assert_eq!(
            wrap("Marketing/Video/2026 Spring/big.mp4", 12, &['/', ' ']),
            "Marketing/\nVideo/2026\nSpring/\nbig.mp4"
        );
        assert_eq!(wrap("the drive is gone", 9, &[' ']), "the drive\nis gone");
        assert_eq!(wrap("abcdefghij", 4, &[' ']), "abcd\nefgh\nij");
        assert_eq!(wrap("a\nb c", 1, &[' ']), "a\nb\nc");
        assert_eq!(
            wrap("東京東京", 4, &[' ']),
            "東京\n東京",
            "wide characters count two"
        );
    }

    /// Audit item 3: the trash list's rule keeps its words whole, and the
    /// table fits 60, 80 and 120 columns, as blocks when it must.
    #[test]
    fn a_table_fits_every_width_and_keeps_words_whole() {
        let mut g = Grid::new(&[
            ("version", Fit::Whole),
            ("side", Fit::Whole),
            ("original path", Fit::Path(16)),
            ("trash path", Fit::Path(16)),
            ("size", Fit::Whole),
            ("deleted at", Fit::Words(10)),
            ("rule", Fit::Words(5)),
        ]);
        g.row([
            "1",
            "right",
            "Marketing/Video/2026 Spring campaign/Final cuts for the web/big_new_final_v1.mp4",
            "Marketing/Video/2026 Spring campaign/Final cuts for the web/big_new_final_v1 (deleted 2026-12-07 033310).mp4",
            "1.50 KiB",
            "2026-12-07 03:33:10 +01:00",
            "6.2.3 (overwritten)",
        ]);
        for width in [40, 60, 80, 120, 200] {
            let text = g.render(Some(width));
            assert!(widest_line(&text) <= width, "{width}:\n{text}");
            assert!(text.contains("(overwritten)"), "{width}:\n{text}");
        }
        // Unwrapped in a pipe; side by side where the minimums fit.
        assert_eq!(g.render(None).lines().count(), 5);
        assert!(g.render(Some(120)).starts_with('┌'));
        let blocks = g.render(Some(60));
        assert!(
            blocks.contains("rule:          6.2.3 (overwritten)"),
            "{blocks}"
        );
    }

    #[test]
    fn room_is_shared_evenly_and_short_columns_keep_their_width() {
        let mut g = Grid::new(&[
            ("side", Fit::Whole),
            ("root", Fit::Path(20)),
            ("available", Fit::Words(16)),
        ]);
        g.row(["left", "/srv/share", "yes"]);
        g.row([
            "right",
            "/mnt/cloud/drive",
            "NO: right root `/mnt/cloud/drive` is unavailable: the folder does not exist (drive not mounted?)",
        ]);
        let text = g.render(Some(80));
        assert!(widest_line(&text) == 80, "{text}");
        assert!(
            text.contains("/mnt/cloud/drive ┆"),
            "the short path is whole: {text}"
        );
    }

    #[test]
    fn cells_are_escaped() {
        let mut g = Grid::new(&[("path", Fit::Path(8))]);
        g.row(["evil\u{1b}[2J\nx"]);
        g.row([Cell::lines(["two", "lines\t"])]);
        let text = g.render(None);
        assert!(
            text.contains("evil\\e[2J\\nx") && !text.contains('\u{1b}'),
            "{text}"
        );
        assert!(
            text.contains("│ two ") && text.contains("│ lines\\t "),
            "{text}"
        );
    }
}
