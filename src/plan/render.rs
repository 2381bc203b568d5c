//! Terminal rendering of a plan, in the Terraform spirit: a summary table
//! by kind, direction and rule; the steps, each marked `+` (copies, new
//! folders), `~` (renames, moves, properties), `-` (deletes; a hard delete
//! says "for good") or `!` (conflicts), with the rule and the sentence that
//! chose it; and a one-line total ([`super::Summary::one_line`]).
//!
//! Invariants:
//! - no line is wider than [`View::width`] columns (counted in characters,
//!   escape codes aside): paths are shortened in the middle
//!   (`Marketing/…/big_new.mp4`) and the "why" column wraps; with
//!   [`View::detailed`] paths are whole (they wrap instead), as in `--json`;
//! - `record` steps (paths already identical on both sides) are neither
//!   listed nor numbered: one line counts them; the listed steps are
//!   numbered 1, 2, 3… in plan order;
//! - colour (green `+`, yellow `~`, red `-`, bold red for good, magenta `!`)
//!   only when [`View::color`]; the caller decides it (a terminal, no
//!   `NO_COLOR`, no `--no-color`).

use super::{Op, OpKind, Plan, Step};
use crate::{Kind, Side};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, Color, ColumnConstraint, ContentArrangement, Table, Width};
use std::collections::BTreeMap;
use std::fmt::Write;

/// How to draw a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Columns available (the terminal's width, `COLUMNS`, or 80).
    pub width: usize,
    /// ANSI colour and bold.
    pub color: bool,
    /// Full paths, and each step's id in the plan file (`show --detailed`).
    pub detailed: bool,
    /// List at most this many steps (all when `None`).
    pub limit: Option<usize>,
    /// The plan file just written, if any (named by the hint for the steps
    /// not listed).
    pub saved: Option<String>,
    /// What still needs the admin or is pending, from the health verdict
    /// ([`crate::health::Verdict::open_items`]): a plan with nothing to
    /// apply then says so instead of [`IN_SYNC`] (SPEC §12).
    pub open: Option<String>,
}

impl Default for View {
    fn default() -> Self {
        Self {
            width: 80,
            color: false,
            detailed: false,
            limit: None,
            saved: None,
            open: None,
        }
    }
}

/// Below this width the step table is as narrow as it gets (it may then be wider).
const MIN_WIDTH: usize = 40;

/// What a step does to the files, for its mark and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    /// Copies and new folders: `+`, green.
    Add,
    /// Renames, moves, properties: `~`, yellow.
    Change,
    /// Deletes to trash, removed folders: `-`, red.
    Remove,
    /// Deletes for good: `-`, bold red.
    RemoveForGood,
    /// Conflicts: `!`, magenta.
    Conflict,
}

impl Tone {
    fn of(op: &Op) -> Self {
        match op.kind() {
            OpKind::Copy | OpKind::Mkdir | OpKind::Record => Self::Add,
            OpKind::Rename | OpKind::Move | OpKind::SetProps => Self::Change,
            OpKind::Delete if op.is_soft_delete() => Self::Remove,
            OpKind::Delete => Self::RemoveForGood,
            OpKind::Rmdir => Self::Remove,
            OpKind::Conflict => Self::Conflict,
        }
    }

    fn mark(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Change => "~",
            Self::Remove | Self::RemoveForGood => "-",
            Self::Conflict => "!",
        }
    }

    /// The cell, coloured when the view is.
    fn paint(self, text: String, view: &View) -> Cell {
        let cell = Cell::new(text);
        if !view.color {
            return cell;
        }
        match self {
            Self::Add => cell.fg(Color::Green),
            Self::Change => cell.fg(Color::Yellow),
            Self::Remove => cell.fg(Color::Red),
            Self::RemoveForGood => cell.fg(Color::Red).add_attribute(Attribute::Bold),
            Self::Conflict => cell.fg(Color::Magenta),
        }
    }
}

/// Shortens `path` to at most `max` characters by leaving out folders in
/// the middle (`Marketing/…/big_new.mp4`): the first folder and the name
/// stay as long as they fit, then as many folders next to the name as fit;
/// a name alone too long loses the middle of its stem (`very_lo…name.mp4`).
/// Control characters are escaped first ([`crate::human::escape`]): every
/// path shown to people passes here or through [`path_lines`].
#[must_use]
pub fn shorten_middle(path: &str, max: usize) -> String {
    let path = &*crate::human::escape(path);
    let len = |s: &str| s.chars().count();
    if len(path) <= max {
        return path.to_owned();
    }
    let parts: Vec<&str> = path.split('/').collect();
    let name = parts.last().copied().unwrap_or(path);
    if parts.len() > 1 {
        // Keep parts[..head] and parts[tail..]; the rest becomes "…".
        let (mut head, mut tail) = (0, parts.len() - 1);
        let text = |head: usize, tail: usize| {
            let mut v: Vec<&str> = parts[..head].to_vec();
            v.push("…");
            v.extend(&parts[tail..]);
            v.join("/")
        };
        if len(&text(0, tail)) <= max {
            if len(&text(1, tail)) <= max {
                head = 1;
            }
            while tail > head + 1 && len(&text(head, tail - 1)) <= max {
                tail -= 1;
            }
            return text(head, tail);
        }
    }
    // The name alone does not fit: keep its start and its end (the extension).
    let prefix = if parts.len() > 1 { "…/" } else { "" };
    let room = max.saturating_sub(len(prefix) + 1);
    let chars: Vec<char> = name.chars().collect();
    let end = room / 2;
    let start = room - end;
    let mut s: String = prefix.to_owned();
    s.extend(&chars[..start.min(chars.len())]);
    s.push('…');
    s.extend(&chars[chars.len().saturating_sub(end)..]);
    s
}

/// "1 copy", "2 copies".
fn plural(n: u64, one: &str, many: &str) -> String {
    crate::plural(n, one, many)
}

/// A new table of `width` columns.
fn table(view: &View) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.force_no_tty();
    if view.color {
        t.enforce_styling();
    }
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_width(u16::try_from(view.width.max(MIN_WIDTH)).unwrap_or(u16::MAX));
    t
}

fn direction(op: &Op) -> String {
    match (op.kind(), op.from(), op.side()) {
        (OpKind::Copy | OpKind::SetProps, Some(f), Some(t)) => format!("{f} → {t}"),
        (OpKind::Conflict, _, _) => op
            .conflict_info()
            .map_or_else(String::new, |c| format!("{} newer", c.newer)),
        (OpKind::Record, _, _) => "state only".into(),
        (_, _, Some(s)) => format!("on {s}"),
        _ => String::new(),
    }
}

/// What a copy would have sent for the files a move moves.
fn moved_bytes(op: &Op) -> u64 {
    op.moved_entries()
        .iter()
        .filter(|e| e.left.kind == crate::Kind::File)
        .map(|e| e.left.size)
        .sum()
}

/// The size column: bytes copied or deleted, or for a move the bytes it
/// does not send (on a second line).
fn size_text(op: &Op, bytes: u64) -> String {
    if op.kind() == OpKind::Move {
        format!("{}\nnot sent", crate::human_size(bytes))
    } else if bytes > 0 {
        crate::human_size(bytes)
    } else {
        String::new()
    }
}

fn label(op: &Op) -> &'static str {
    match op.kind() {
        OpKind::Delete if op.is_soft_delete() => "delete (to trash)",
        OpKind::Delete => "delete (for good)",
        OpKind::Mkdir => "new folder",
        OpKind::Rmdir => "remove folder",
        OpKind::SetProps => "properties",
        k => k.as_str(),
    }
}

/// The side a copy replaces a file on, and whether that version goes to
/// trash (as apply does it: soft delete on and the old file not above
/// `soft_delete.max_size_bytes`).
pub(super) fn replaced(op: &Op, soft_delete: bool, max_bytes: u64) -> Option<(Side, u64, bool)> {
    if op.kind() != OpKind::Copy {
        return None;
    }
    let side = op.side()?;
    let dest = op.dest_path().unwrap_or(&op.path);
    op.expect
        .iter()
        .find(|e| e.side == side && e.path == dest)
        .filter(|e| e.exists && e.kind == Some(Kind::File))
        .map(|e| {
            let by_rule = match &op.step {
                Step::Copy(c) => c.keeps_replaced,
                _ => None,
            };
            (
                side,
                e.size,
                by_rule.unwrap_or(soft_delete && e.size <= max_bytes),
            )
        })
}

/// The grouped summary table.
#[must_use]
pub fn summary_table(plan: &Plan, view: &View) -> String {
    /// A row: how many, how many bytes, its colour, whether moves (bytes not sent).
    struct Group {
        n: u64,
        bytes: u64,
        tone: Tone,
        moved: bool,
    }
    let mut groups: BTreeMap<(String, String, String), Group> = BTreeMap::new();
    let mut add = |k: String, d: String, r: &str, bytes: u64, tone: Tone, moved: bool| {
        let g = groups.entry((k, d, r.to_owned())).or_insert(Group {
            n: 0,
            bytes: 0,
            tone,
            moved,
        });
        g.n += 1;
        g.bytes += bytes;
    };
    for op in plan.ops.iter().filter(|o| o.kind() != OpKind::Record) {
        let moved = op.kind() == OpKind::Move;
        let bytes = if moved { moved_bytes(op) } else { op.bytes };
        add(
            label(op).to_owned(),
            direction(op),
            op.rule.as_str(),
            bytes,
            Tone::of(op),
            moved,
        );
        // The version a copy replaces: to trash, or not kept.
        if let Some((side, size, kept)) = replaced(
            op,
            plan.config.soft_delete,
            plan.config.soft_delete_max_bytes,
        ) {
            let (k, tone) = if kept {
                ("replaced version (to trash)", Tone::Remove)
            } else {
                ("replaced version (not kept)", Tone::RemoveForGood)
            };
            add(
                k.to_owned(),
                format!("on {side}"),
                op.rule.as_str(),
                size,
                tone,
                false,
            );
        }
    }
    let mut t = table(view);
    t.set_header(["operation", "direction", "rule", "count", "size"]);
    for ((k, d, r), g) in groups {
        let Group {
            n,
            bytes: b,
            tone,
            moved,
        } = g;
        let size = if moved {
            format!("{} not sent", crate::human_size(b))
        } else if b > 0 || tone == Tone::Add && k == "copy" {
            crate::human_size(b)
        } else {
            String::new()
        };
        t.add_row(vec![
            tone.paint(format!("{} {k}", tone.mark()), view),
            Cell::new(d),
            Cell::new(r),
            Cell::new(n.to_string()),
            Cell::new(size),
        ]);
    }
    t.to_string()
}

/// The "change" cell of a step: its mark and verb, then where (and for a
/// delete, whether to trash or for good), one line each when narrow.
fn change_lines(op: &Op) -> Vec<String> {
    let tone = Tone::of(op);
    let side = op.side().map_or_else(String::new, |s| s.to_string());
    let on = format!("on {side}");
    let (verb, lines): (&str, Vec<String>) = match op.kind() {
        OpKind::Copy => ("copy", vec![format!("→ {side}")]),
        OpKind::Mkdir | OpKind::Rmdir => ("folder", vec![on]),
        OpKind::Delete if op.is_soft_delete() => ("delete", vec![on, "to trash".into()]),
        OpKind::Delete => ("delete", vec![on, "for good".into()]),
        OpKind::Rename => ("rename", vec![on]),
        OpKind::Move => ("move", vec![on]),
        OpKind::SetProps => ("properties", vec![on]),
        // Which side is newer, and what happens, is the "why".
        OpKind::Conflict => ("conflict", Vec::new()),
        OpKind::Record => ("record", Vec::new()),
    };
    let mut out = vec![format!("{} {verb}", tone.mark())];
    out.extend(lines.into_iter().map(|l| format!("  {l}")));
    out
}

/// The "path" cell of a step, a line per path (the path, then where it
/// goes or its clash copy), control characters escaped.
fn path_lines(op: &Op) -> Vec<String> {
    use crate::human::escape;
    let src = if op.kind() == OpKind::Move || op.kind() == OpKind::Rename {
        op.src_path().unwrap_or(&op.path)
    } else {
        &op.path
    };
    let mut lines = vec![escape(src).into_owned()];
    if let Some(d) = op.dest_path()
        && d != src
    {
        lines.push(format!("→ {}", escape(d)));
    }
    if let Some(c) = op.conflict_info().and_then(|c| c.clash_path.as_ref()) {
        lines.push(format!("clash: {}", escape(c)));
    }
    lines
}

/// Shortens each line of a path cell to `max` characters, its prefix
/// (`→ `, `clash: `) kept.
fn shorten_lines(lines: &[String], max: usize) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let prefix = ["→ ", "clash: "]
                .into_iter()
                .find(|p| l.starts_with(p))
                .unwrap_or("");
            let rest = &l[prefix.len()..];
            format!(
                "{prefix}{}",
                shorten_middle(rest, max.saturating_sub(prefix.chars().count()).max(8))
            )
        })
        .collect()
}

/// The widest line of these texts, in characters.
fn widest(texts: impl IntoIterator<Item = impl AsRef<str>>) -> usize {
    texts
        .into_iter()
        .flat_map(|t| {
            t.as_ref()
                .lines()
                .map(|l| l.chars().count())
                .collect::<Vec<_>>()
        })
        .max()
        .unwrap_or(0)
}

/// The steps (records left out), up to `view.limit` rows, fitted to
/// `view.width`; then the hint for the steps not listed.
#[must_use]
pub fn ops_table(plan: &Plan, view: &View) -> String {
    let shown: Vec<&Op> = plan
        .ops
        .iter()
        .filter(|o| o.kind() != OpKind::Record)
        .collect();
    let n = view.limit.unwrap_or(usize::MAX).min(shown.len());
    /// A listed step's cells before fitting.
    struct Row<'p> {
        op: &'p Op,
        change: Vec<String>,
        path: Vec<String>,
        size: String,
        why: String,
    }
    let rows: Vec<Row> = shown[..n]
        .iter()
        .map(|op| {
            let bytes = if op.kind() == OpKind::Move {
                moved_bytes(op)
            } else {
                op.bytes
            };
            let mut why = format!("{} · {}", op.rule.as_str(), op.reason);
            if let Some(policy) = &op.policy {
                why = format!("{why} · rule `{policy}`");
            }
            if view.detailed {
                why = format!("step {} · {why}", op.id);
            }
            let why = crate::human::escape(&why).into_owned();
            Row {
                op,
                change: change_lines(op),
                path: path_lines(op),
                size: size_text(op, bytes),
                why,
            }
        })
        .collect();
    // On one line each when that fits; else a line per part.
    let one_line = |c: &Vec<String>| {
        let mut s = c[0].clone();
        for (i, l) in c[1..].iter().enumerate() {
            s.push_str(if i == 0 { " " } else { ", " });
            s.push_str(l.trim_start());
        }
        s
    };
    // Wide: a path and where it goes on one line, "(clash: …)" after it.
    let one_line_path = |p: &[String]| {
        let mut s = p[0].clone();
        for l in &p[1..] {
            match l.strip_prefix("clash: ") {
                Some(c) => s.push_str(&format!(" (clash: {c})")),
                None => s.push_str(&format!(" {l}")),
            }
        }
        s
    };
    const HEADERS: [&str; 5] = ["#", "change", "path", "size", "why"];
    // Borders and padding: 3 per column and 1.
    let frame = 3 * HEADERS.len() + 1;
    let w_num = widest([n.to_string(), HEADERS[0].into()]);
    let w_why_full = widest(rows.iter().map(|r| r.why.as_str()).chain([HEADERS[4]]));
    let w_change_wide = widest(
        rows.iter()
            .map(|r| one_line(&r.change))
            .chain([HEADERS[1].into()]),
    );
    let w_size_wide = widest(
        rows.iter()
            .map(|r| r.size.replace('\n', " "))
            .chain([HEADERS[3].into()]),
    );
    let w_path_wide = widest(
        rows.iter()
            .map(|r| one_line_path(&r.path))
            .chain([HEADERS[2].into()]),
    );
    let width = view.width.max(MIN_WIDTH);
    let fixed_wide = frame + w_num + w_change_wide + w_size_wide;
    let wide = fixed_wide + w_path_wide + w_why_full <= width || fixed_wide + 2 * 30 <= width;
    let changes: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            if wide {
                vec![one_line(&r.change)]
            } else {
                r.change.clone()
            }
        })
        .collect();
    let sizes: Vec<String> = rows
        .iter()
        .map(|r| {
            if wide {
                r.size.replace('\n', " ")
            } else {
                r.size.clone()
            }
        })
        .collect();
    let w_change = widest(
        changes
            .iter()
            .flatten()
            .map(String::as_str)
            .chain([HEADERS[1]]),
    );
    let w_size = widest(sizes.iter().map(String::as_str).chain([HEADERS[3]]));
    let w_path_full = if wide {
        w_path_wide
    } else {
        widest(
            rows.iter()
                .flat_map(|r| r.path.iter().map(String::as_str))
                .chain([HEADERS[2]]),
        )
    };
    let room = width.saturating_sub(frame + w_num + w_change + w_size);
    // The path gets what the "why" leaves; when both need more, the whole
    // path if the "why" keeps 20 columns, else 55% of the room. The "why"
    // wraps in what is left.
    const WHY_MIN: usize = 20;
    let w_path = if w_path_full + w_why_full <= room {
        w_path_full
    } else {
        w_path_full
            .min(
                room.saturating_sub(w_why_full)
                    .max(room * 11 / 20)
                    .max(room.saturating_sub(WHY_MIN)),
            )
            .max(8)
    };
    // The path cells as shown; then the path column only as wide as they
    // need, and the rest for the "why".
    let paths: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let joined = one_line_path(&r.path);
            if wide && joined.chars().count() <= w_path {
                vec![joined]
            } else if view.detailed {
                r.path.clone()
            } else {
                shorten_lines(&r.path, w_path)
            }
        })
        .collect();
    let w_path = if view.detailed {
        w_path
    } else {
        w_path.min(widest(
            paths
                .iter()
                .flatten()
                .map(String::as_str)
                .chain([HEADERS[2]]),
        ))
    };
    let w_why = room.saturating_sub(w_path).clamp(1, w_why_full.max(1));
    let mut t = table(view);
    t.set_header(HEADERS);
    for (i, (((row, change), size), path)) in rows
        .iter()
        .zip(&changes)
        .zip(&sizes)
        .zip(&paths)
        .enumerate()
    {
        let Row { op, why, .. } = row;
        let tone = Tone::of(op);
        let path_cell = if tone == Tone::RemoveForGood && view.color {
            tone.paint(path.join("\n"), view)
        } else {
            Cell::new(path.join("\n"))
        };
        t.add_row(vec![
            Cell::new(i + 1),
            tone.paint(change.join("\n"), view),
            path_cell,
            Cell::new(size),
            Cell::new(why),
        ]);
    }
    let fixed = |w: usize| {
        ColumnConstraint::Absolute(Width::Fixed(u16::try_from(w + 2).unwrap_or(u16::MAX)))
    };
    t.set_constraints([
        fixed(w_num),
        fixed(w_change),
        fixed(w_path),
        fixed(w_size),
        fixed(w_why),
    ]);
    let mut s = t.to_string();
    let more = shown.len() - n;
    if more > 0 {
        let steps = plural(more as u64, "more step", "more steps");
        let hint = match &view.saved {
            Some(file) => {
                format!("… and {steps} (all of them: `twinsync show --detailed {file}`)")
            }
            None => format!(
                "… and {steps} not listed (`twinsync plan --out plans/` saves the whole plan; `twinsync show --detailed` lists it)"
            ),
        };
        let _ = write!(s, "\n{}", wrap(&hint, width, 2));
    }
    s
}

/// The headline of a plan with nothing to do. Only said when nothing else
/// is pending and nothing needs the admin ([`View::open`] is `None`).
pub const IN_SYNC: &str = "No changes. Both sides are in sync.";

/// The headline of a plan with nothing to apply while something is left
/// for later or waits for the admin: never "No changes" (SPEC §12).
fn nothing_to_apply(open: Option<&str>) -> String {
    match open {
        Some(o) => format!("Nothing to apply now. {o} (see `twinsync status`)."),
        None => "Nothing to apply now.".to_owned(),
    }
}

/// The line for the `record` steps: paths identical on both sides that
/// the plan records as in sync without touching them ("163 unchanged
/// files adopted"), and paths gone from both sides that it forgets.
#[must_use]
pub fn records_line(plan: &Plan) -> Option<String> {
    let (mut files, mut folders, mut gone) = (0u64, 0u64, 0u64);
    for r in plan.ops.iter().filter_map(|o| match &o.step {
        Step::Record(r) => Some(&r.record),
        _ => None,
    }) {
        match r.left.as_ref().or(r.right.as_ref()).map(|e| e.kind) {
            Some(Kind::Dir) => folders += 1,
            Some(Kind::File) => files += 1,
            None => gone += 1,
        }
    }
    let mut parts = Vec::new();
    if files + folders > 0 {
        let what = match (files, folders) {
            (f, 0) => plural(f, "unchanged file", "unchanged files"),
            (0, d) => plural(d, "unchanged folder", "unchanged folders"),
            (f, d) => format!(
                "{} and {}",
                plural(f, "unchanged file", "unchanged files"),
                plural(d, "folder", "folders")
            ),
        };
        parts.push(format!(
            "{what} adopted (identical on both sides: recorded as in sync, nothing copied)"
        ));
    }
    if gone > 0 {
        parts.push(format!(
            "{} forgotten",
            plural(
                gone,
                "path gone from both sides",
                "paths gone from both sides"
            )
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Wraps `text` at spaces to lines of at most `width` characters, the
/// lines after the first indented by `indent` spaces; a word longer than a
/// line (a long path) is cut where the line ends.
#[must_use]
pub fn wrap(text: &str, width: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    let new_line = |out: &mut String, line_len: &mut usize| {
        out.push('\n');
        out.push_str(&" ".repeat(indent));
        *line_len = indent;
    };
    for word in text.split(' ') {
        let n = word.chars().count();
        if line_len > indent && line_len + 1 + n > width {
            new_line(&mut out, &mut line_len);
        } else if !out.is_empty() {
            out.push(' ');
            line_len += 1;
        }
        for c in word.chars() {
            if line_len >= width && line_len > indent {
                new_line(&mut out, &mut line_len);
            }
            out.push(c);
            line_len += 1;
        }
    }
    out
}

/// Everything `plan`, `show` and `apply` print for people.
#[must_use]
pub fn render(plan: &Plan, view: &View) -> String {
    let width = view.width.max(MIN_WIDTH);
    let mut out = String::new();
    let head = format!(
        "Plan {} ({})",
        plan.plan_id,
        crate::human::time_text(&plan.created_at)
    );
    let _ = writeln!(out, "{}", wrap(&head, width, 2));
    for (side, root) in [("left: ", &plan.left_root), ("right:", &plan.right_root)] {
        let line = format!("{side} {}", crate::human::escape(root));
        let _ = writeln!(out, "  {}", wrap(&line, width - 2, 7));
    }
    for p in &plan.problems {
        let p = crate::human::escape(p);
        let _ = writeln!(out, "{}", wrap(&format!("  warning: {p}"), width, 4));
    }
    let s = &plan.summary;
    let records = records_line(plan);
    let open = view.open.as_deref();
    if plan.ops.is_empty() && s.deferred == 0 && open.is_none() {
        let _ = writeln!(out, "\n{IN_SYNC}");
    } else if plan.ops.is_empty() {
        let _ = writeln!(out, "\n{}", wrap(&nothing_to_apply(open), width, 2));
    } else if !s.has_changes() {
        let line = format!(
            "No file changes; {}.",
            records.as_deref().unwrap_or("nothing to record")
        );
        let _ = writeln!(out, "\n{}", wrap(&line, width, 2));
        if let Some(o) = open {
            let line = format!("{o} (see `twinsync status`).");
            let _ = writeln!(out, "{}", wrap(&line, width, 2));
        }
    } else {
        let _ = writeln!(out, "\n{}", summary_table(plan, view));
        let _ = writeln!(out, "{}", ops_table(plan, view));
        if let Some(r) = &records {
            let _ = writeln!(out, "{}", wrap(&format!("… and {r}."), width, 2));
        }
    }
    if s.deferred > 0 {
        let line = format!(
            "{} left for a later cycle (still being written, unreadable, or in flight).",
            plural(s.deferred, "path", "paths")
        );
        let _ = writeln!(out, "{}", wrap(&line, width, 2));
    }
    let _ = writeln!(out, "\n{}", wrap(&s.one_line(), width, 6));
    out
}

#[cfg(test)]
mod tests;
