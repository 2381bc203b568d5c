//! The rule table as data: every row of SPEC §6 × every option, each case
//! a tree description (state, left now, right now) and the exact ops.
//! Every case runs twice: on hand-built snapshots (the pure engine) and on
//! snapshots scanned from the in-memory file system, case-insensitive with
//! 2 s timestamps (as a Windows share or a FAT/cloud drive would report).

use super::*;
use crate::config::ConflictOption;
use crate::config::rules::{DeleteMode, Direction, FolderRules, RawRule};
use crate::exclude::Excluder;
use crate::fs::Fs;
use crate::fs::mem::MemFs;
use crate::plan::{OpKind, Step};
use crate::scan::scan_side;
use crate::state::{ConflictRecord, StateRow};

const S: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * S;

/// A file: path, content (size and hash follow from it), mtime in seconds after T0.
#[derive(Clone)]
struct F {
    path: &'static str,
    data: &'static str,
    t: i64,
    props: u32,
    dir: bool,
    /// File id (inode) the side reports; 0 = none.
    id: u64,
}

/// A file with a file id (a side that reports ids).
fn fi(path: &'static str, data: &'static str, t: i64, id: u64) -> F {
    F {
        id,
        ..f(path, data, t)
    }
}

fn f(path: &'static str, data: &'static str, t: i64) -> F {
    F {
        path,
        data,
        t,
        props: 0o644,
        dir: false,
        id: 0,
    }
}
fn fp(path: &'static str, data: &'static str, t: i64, props: u32) -> F {
    F {
        path,
        data,
        t,
        props,
        dir: false,
        id: 0,
    }
}
fn d(path: &'static str) -> F {
    F {
        path,
        data: "",
        t: 0,
        props: 0o755,
        dir: true,
        id: 0,
    }
}

impl F {
    fn entry(&self) -> Entry {
        Entry {
            path: self.path.to_owned(),
            kind: if self.dir { Kind::Dir } else { Kind::File },
            size: self.data.len() as u64,
            mtime: if self.dir { 0 } else { T0 + self.t * S },
            props: self.props,
            offline: false,
            hash: (!self.dir).then(|| blake3::hash(self.data.as_bytes()).to_hex().to_string()),
            id: crate::fs::FileId::new(1, self.id),
            unchanged: false,
        }
    }
}

#[derive(Default, Clone)]
struct Case {
    name: &'static str,
    /// Last synced: (left, right) per path.
    state: Vec<(Option<F>, Option<F>)>,
    left: Vec<F>,
    right: Vec<F>,
    opts: Vec<fn(&mut Options)>,
    /// An unresolved conflict on this path (option2 remembered), with a keep choice.
    parked: Option<(&'static str, Option<&'static str>)>,
    deferred: Vec<&'static str>,
    /// Only meaningful with case-insensitive identity.
    ci_only: bool,
    expect: Vec<&'static str>,
}

fn opts() -> Options {
    Options {
        case_sensitive: false,
        mtime_tolerance_ns: 2 * S,
        same_file_changed_both: ConflictOption::CLASH,
        new_file_both_different: ConflictOption::CLASH,
        properties_conflict_both: ConflictOption::CLASH,
        clash_suffix: " - clash".into(),
        soft_delete: true,
        soft_delete_max_bytes: 100,
        large_file_bytes: 50,
        hash_max_bytes: 1000,
        detect_moves: true,
        rules: FolderRules::default(),
        exclude: Vec::new(),
    }
}

/// `kind side path [→ dest] rule` strings, one per op, in order.
fn describe(ops: &[Op]) -> Vec<String> {
    ops.iter()
        .map(|o| {
            let mut s = o.kind().as_str().to_owned();
            if let Some(side) = o.side() {
                s.push_str(&format!(" {side}"));
            }
            match o.kind() {
                OpKind::Copy | OpKind::Rename | OpKind::Move => s.push_str(&format!(
                    " {} → {}",
                    o.src_path().unwrap_or(""),
                    o.dest_path().unwrap_or("")
                )),
                OpKind::Delete => s.push_str(&format!(
                    " {}{}",
                    o.path,
                    if o.is_soft_delete() {
                        " (trash)"
                    } else {
                        " (hard)"
                    }
                )),
                OpKind::Conflict => {
                    let c = o.conflict_info().unwrap();
                    s.push_str(&format!(" {} {} newer={}", o.path, c.resolution, c.newer));
                    if let Some(cp) = &c.clash_path {
                        s.push_str(&format!(" clash={cp}"));
                    }
                }
                OpKind::Record => {
                    let Step::Record(r) = &o.step else {
                        unreachable!()
                    };
                    let r = &r.record;
                    s.push_str(&format!(
                        " {}{}",
                        o.path,
                        if r.left.is_none() && r.right.is_none() {
                            " forget"
                        } else {
                            ""
                        }
                    ));
                }
                _ => s.push_str(&format!(" {}", o.dest_path().unwrap_or(&o.path))),
            }
            s.push_str(&format!(" [{}]", o.rule));
            s
        })
        .collect()
}

fn state_of(c: &Case, cs: bool) -> StateMap {
    c.state
        .iter()
        .map(|(l, r)| {
            let p = l.as_ref().or(r.as_ref()).unwrap().path;
            (
                crate::paths::key_of(p, cs),
                StateRow {
                    left: l.as_ref().map(F::entry),
                    right: r.as_ref().map(F::entry),
                },
            )
        })
        .collect()
}

fn scan_of(files: &[F], cs: bool) -> SideScan {
    let mut s = SideScan::default();
    for f in files {
        s.entries
            .insert(&crate::paths::key_of(f.path, cs), f.entry());
    }
    s
}

fn mem_scan(files: &[F]) -> SideScan {
    let m = MemFs::new("t", true, 2 * S);
    m.put(crate::paths::MARKER_NAME, b"{}");
    for f in files {
        if f.dir {
            m.create_dir_all(f.path).unwrap();
            m.set_meta(f.path, 0, f.props).unwrap();
        } else {
            m.put(f.path, f.data.as_bytes());
            m.set_meta(f.path, T0 + f.t * S, f.props).unwrap();
        }
    }
    let ex = Excluder::new(&[], false, Some(".sync_trash"), None).unwrap();
    let mut s = scan_side(&m, Side::Left, &ex, false, &|_| {}).unwrap();
    s.restore_paths();
    // The plan driver hashes on request; here every file's hash is known.
    for e in s.entries.values_mut() {
        if e.kind == Kind::File {
            e.hash = Some(crate::fs::hash_file(&m, &e.path).unwrap());
        }
        // The fixture's file ids stand for the volume's inodes.
        e.id = files
            .iter()
            .find(|f| crate::paths::key_of(f.path, false) == crate::paths::key_of(&e.path, false))
            .and_then(|f| f.entry().id);
    }
    s
}

fn run_case(c: &Case, cs: bool, mem: bool) -> Vec<String> {
    describe(&plan_case(c, cs, mem))
}

/// The ops a case plans (pure or on the in-memory file system).
fn plan_case(c: &Case, cs: bool, mem: bool) -> Vec<Op> {
    let mut o = opts();
    o.case_sensitive = cs;
    for m in &c.opts {
        m(&mut o);
    }
    let state = state_of(c, cs);
    let (left, right) = if mem {
        (mem_scan(&c.left), mem_scan(&c.right))
    } else {
        (scan_of(&c.left, cs), scan_of(&c.right, cs))
    };
    let mut conflicts = HashMap::new();
    if let Some((p, keep)) = c.parked {
        let k = crate::paths::key_of(p, cs);
        conflicts.insert(
            k.clone(),
            ConflictRecord {
                key: k.clone(),
                path: p.into(),
                rule: Rule::ChangedBoth,
                left: left.entries.get(&k).cloned(),
                right: right.entries.get(&k).cloned(),
                keep: keep.map(|k| k.parse().unwrap()),
                created_at: String::new(),
            },
        );
    }
    let deferred: HashSet<String> = c
        .deferred
        .iter()
        .map(|p| crate::paths::key_of(p, cs))
        .collect();
    let input = Input {
        left: &left,
        right: &right,
        state: &state,
        conflicts: &conflicts,
        deferred: &deferred,
        opts: &o,
    };
    reconcile(&input).0
}

fn synced(p: &'static str, data: &'static str) -> (Option<F>, Option<F>) {
    (Some(f(p, data, 0)), Some(f(p, data, 0)))
}

fn o2(o: &mut Options) {
    o.same_file_changed_both = ConflictOption::LEAVE;
    o.properties_conflict_both = ConflictOption::LEAVE;
}
fn o3(o: &mut Options) {
    o.same_file_changed_both = ConflictOption::NEWER_WINS;
    o.properties_conflict_both = ConflictOption::NEWER_WINS;
    o.new_file_both_different = ConflictOption::NEW_FILE_NEWER_WINS;
}
fn no_trash(o: &mut Options) {
    o.soft_delete = false;
}
fn no_moves(o: &mut Options) {
    o.detect_moves = false;
}

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "6.2.1 option1: clash copies, newer (left) at the path",
            state: vec![synced("a.txt", "base")],
            left: vec![f("a.txt", "left edit", 20)],
            right: vec![f("a.txt", "right edit!", 10)],
            expect: vec![
                "conflict a.txt clash_copies newer=left clash=a - clash.txt [6.2.1]",
                "rename right a.txt → a - clash.txt [6.2.1]",
                "copy right a.txt → a.txt [6.2.1]",
                "copy left a - clash.txt → a - clash.txt [6.2.1]",
            ],
            ..Case::default()
        },
        Case {
            name: "6.2.1 option1: right newer",
            state: vec![synced("r.docx", "base")],
            left: vec![f("r.docx", "left edit", 10)],
            right: vec![f("r.docx", "right edit!", 30)],
            expect: vec![
                "conflict r.docx clash_copies newer=right clash=r - clash.docx [6.2.1]",
                "rename left r.docx → r - clash.docx [6.2.1]",
                "copy right r - clash.docx → r - clash.docx [6.2.1]",
                "copy left r.docx → r.docx [6.2.1]",
            ],
            ..Case::default()
        },
        Case {
            name: "6.2.1 option1: equal mtimes, left counts as newer; taken clash name → ' - clash 2'",
            state: vec![synced("n", "base"), synced("n - clash", "old clash")],
            left: vec![f("n", "left", 10), f("n - clash", "old clash", 0)],
            right: vec![f("n", "right", 10), f("n - clash", "old clash", 0)],
            expect: vec![
                "conflict n clash_copies newer=left clash=n - clash 2 [6.2.1]",
                "rename right n → n - clash 2 [6.2.1]",
                "copy right n → n [6.2.1]",
                "copy left n - clash 2 → n - clash 2 [6.2.1]",
            ],
            ..Case::default()
        },
        Case {
            name: "6.2.1 option2: leave both, record as unresolved",
            state: vec![synced("a.txt", "base")],
            left: vec![f("a.txt", "left edit", 20)],
            right: vec![f("a.txt", "right edit!", 10)],
            opts: vec![o2],
            expect: vec!["conflict a.txt left_alone newer=left [6.2.1]"],
            ..Case::default()
        },
        Case {
            name: "6.2.1 option2 remembered: skipped while both sides stay as they were",
            state: vec![synced("a.txt", "base")],
            left: vec![f("a.txt", "left edit", 20)],
            right: vec![f("a.txt", "right edit!", 10)],
            opts: vec![o2],
            parked: Some(("a.txt", None)),
            expect: vec![],
            ..Case::default()
        },
        Case {
            name: "resolve --keep left: right version to trash, left copied",
            state: vec![synced("a.txt", "base")],
            left: vec![f("a.txt", "left edit", 20)],
            right: vec![f("a.txt", "right edit!", 10)],
            opts: vec![o2],
            parked: Some(("a.txt", Some("left"))),
            expect: vec![
                "conflict a.txt keep_side newer=left [6.2.1]",
                "copy right a.txt → a.txt [6.2.1]",
            ],
            ..Case::default()
        },
        Case {
            name: "resolve --keep both: clash copies",
            state: vec![synced("a.txt", "base")],
            left: vec![f("a.txt", "left edit", 20)],
            right: vec![f("a.txt", "right edit!", 10)],
            opts: vec![o2],
            parked: Some(("a.txt", Some("both"))),
            expect: vec![
                "conflict a.txt clash_copies newer=left clash=a - clash.txt [6.2.1]",
                "rename right a.txt → a - clash.txt [6.2.1]",
                "copy right a.txt → a.txt [6.2.1]",
                "copy left a - clash.txt → a - clash.txt [6.2.1]",
            ],
            ..Case::default()
        },
        Case {
            name: "6.2.1 option3: newer overwrites, older to trash",
            state: vec![synced("a.txt", "base")],
            left: vec![f("a.txt", "left edit", 10)],
            right: vec![f("a.txt", "right edit!", 20)],
            opts: vec![o3],
            expect: vec![
                "conflict a.txt newer_overwrites newer=right [6.2.1]",
                "copy left a.txt → a.txt [6.2.1]",
            ],
            ..Case::default()
        },
        Case {
            name: "6.2.1 option3 with soft delete off: overwritten in place",
            state: vec![synced("a.txt", "base")],
            left: vec![f("a.txt", "left edit", 10)],
            right: vec![f("a.txt", "right edit!", 20)],
            opts: vec![o3, no_trash],
            expect: vec!["conflict a.txt newer_overwrites newer=right [6.2.1]", "copy left a.txt → a.txt [6.2.1]"],
            ..Case::default()
        },
        Case {
            name: "changed on both to identical content: record",
            state: vec![synced("a.txt", "base")],
            left: vec![f("a.txt", "same new", 10)],
            right: vec![f("a.txt", "same new", 30)],
            expect: vec!["record a.txt [same]"],
            ..Case::default()
        },
        Case {
            name: "6.2.2 option1: new on both, different: clash copies",
            left: vec![f("a.txt", "from left", 30)],
            right: vec![f("a.txt", "from right!", 10)],
            expect: vec![
                "conflict a.txt clash_copies newer=left clash=a - clash.txt [6.2.2]",
                "rename right a.txt → a - clash.txt [6.2.2]",
                "copy right a.txt → a.txt [6.2.2]",
                "copy left a - clash.txt → a - clash.txt [6.2.2]",
            ],
            ..Case::default()
        }
        .with_both("other", "x"),
        Case {
            name: "6.2.2 option2: newer overwrites older",
            left: vec![f("a.txt", "from left", 30)],
            right: vec![f("a.txt", "from right!", 10)],
            opts: vec![o3],
            expect: vec![
                "conflict a.txt newer_overwrites newer=left [6.2.2]",
                "copy right a.txt → a.txt [6.2.2]",
            ],
            ..Case::default()
        }
        .with_both("other", "x"),
        Case {
            name: "new on both, identical content: record",
            left: vec![f("a.txt", "same", 30)],
            right: vec![f("a.txt", "same", 10)],
            expect: vec!["record a.txt [same]"],
            ..Case::default()
        }
        .with_both("other", "x"),
        Case {
            name: "first run: equal size, mtimes within tolerance: adopted",
            left: vec![f("a.txt", "same", 10), d("dir")],
            right: vec![f("a.txt", "same", 11), d("dir")],
            expect: vec!["record a.txt [same]", "record dir [same]"],
            ..Case::default()
        },
        Case {
            name: "6.2.3 changed on left only",
            state: vec![synced("a.txt", "v1")],
            left: vec![f("a.txt", "v2 longer", 10)],
            right: vec![f("a.txt", "v1", 0)],
            expect: vec!["copy right a.txt → a.txt [6.2.3]"],
            ..Case::default()
        },
        Case {
            name: "6.2.4 changed on right only",
            state: vec![synced("a.txt", "v1")],
            left: vec![f("a.txt", "v1", 0)],
            right: vec![f("a.txt", "v2 longer", 10)],
            expect: vec!["copy left a.txt → a.txt [6.2.4]"],
            ..Case::default()
        },
        Case {
            name: "6.2.5 deleted on left, changed on right: copied back",
            state: vec![synced("a.txt", "v1")],
            right: vec![f("a.txt", "v2 longer", 10)],
            expect: vec!["copy left a.txt → a.txt [6.2.5]"],
            ..Case::default()
        }
        .with_both("keep", "k"),
        Case {
            name: "6.2.6 deleted on right, changed on left: copied back",
            state: vec![synced("a.txt", "v1")],
            left: vec![f("a.txt", "v2 longer", 10)],
            expect: vec!["copy right a.txt → a.txt [6.2.6]"],
            ..Case::default()
        }
        .with_both("keep", "k"),
        Case {
            name: "6.2.7 deleted on left, unchanged on right: to trash on right",
            state: vec![synced("a.txt", "v1")],
            right: vec![f("a.txt", "v1", 0)],
            expect: vec!["delete right a.txt (trash) [6.2.7]"],
            ..Case::default()
        }
        .with_both("keep", "k"),
        Case {
            name: "6.2.8 deleted on right, unchanged on left: to trash on left",
            state: vec![synced("a.txt", "v1")],
            left: vec![f("a.txt", "v1", 0)],
            expect: vec!["delete left a.txt (trash) [6.2.8]"],
            ..Case::default()
        }
        .with_both("keep", "k"),
        Case {
            name: "6.2.8 large file: deleted for good",
            state: vec![synced("big.mov", "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789-over")],
            left: vec![f("big.mov", "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789-over", 0)],
            expect: vec!["delete left big.mov (hard) [6.2.8]"],
            ..Case::default()
        }
        .with_both("keep", "k"),
        Case {
            name: "6.2.7 soft delete disabled: deleted for good",
            state: vec![synced("a.txt", "v1")],
            right: vec![f("a.txt", "v1", 0)],
            opts: vec![no_trash],
            expect: vec!["delete right a.txt (hard) [6.2.7]"],
            ..Case::default()
        }
        .with_both("keep", "k"),
        Case {
            name: "6.2.9 / 6.2.10 new on one side, folders first, small before large",
            state: vec![synced("keep", "k")],
            left: vec![f("keep", "k", 0), d("new"), f("new/big.bin", "0123456789012345678901234567890123456789012345678901234567890", 5), f("new/s.txt", "s", 9), d("empty")],
            right: vec![f("keep", "k", 0), f("r.txt", "right", 3)],
            expect: vec![
                "mkdir right empty [6.2.9]",
                "mkdir right new [6.2.9]",
                "copy right new/s.txt → new/s.txt [6.2.9]",
                "copy left r.txt → r.txt [6.2.10]",
                "copy right new/big.bin → new/big.bin [6.2.9]",
            ],
            ..Case::default()
        },
        Case {
            name: "6.2.11 properties changed on left: set on right, no copy",
            state: vec![synced("a.txt", "v1")],
            left: vec![fp("a.txt", "v1", 0, 0o600)],
            right: vec![f("a.txt", "v1", 0)],
            expect: vec!["set_props right a.txt [6.2.11]"],
            ..Case::default()
        },
        Case {
            name: "6.2.12 mtime-only change on right, same content: property change",
            state: vec![synced("a.txt", "v1")],
            left: vec![f("a.txt", "v1", 0)],
            right: vec![f("a.txt", "v1", 40)],
            expect: vec!["set_props left a.txt [6.2.12]"],
            ..Case::default()
        },
        Case {
            name: "6.2.11 name case changed on left: rename on right",
            state: vec![synced("report.docx", "v1")],
            left: vec![f("Report.docx", "v1", 0)],
            right: vec![f("report.docx", "v1", 0)],
            ci_only: true,
            expect: vec!["rename right report.docx → Report.docx [6.2.11]", "set_props right Report.docx [6.2.11]"],
            ..Case::default()
        },
        Case {
            name: "6.2.12 folder case changed on right: folder renamed on left, children follow",
            state: vec![(Some(d("dir")), Some(d("dir"))), synced("dir/a.txt", "v1")],
            left: vec![d("dir"), f("dir/a.txt", "v1", 0)],
            right: vec![d("Dir"), f("Dir/a.txt", "v1", 0)],
            ci_only: true,
            expect: vec!["rename left dir → Dir [6.2.12]", "set_props left Dir [6.2.12]"],
            ..Case::default()
        },
        Case {
            name: "6.2.13 option1: properties changed differently on both: clash copies",
            state: vec![synced("a.txt", "v1")],
            left: vec![fp("a.txt", "v1", 0, 0o600)],
            right: vec![fp("a.txt", "v1", 0, 0o640)],
            expect: vec![
                "conflict a.txt clash_copies newer=left clash=a - clash.txt [6.2.13]",
                "rename right a.txt → a - clash.txt [6.2.13]",
                "copy left a - clash.txt → a - clash.txt [6.2.13]",
                "copy right a.txt → a.txt [6.2.13]",
            ],
            ..Case::default()
        },
        Case {
            name: "6.2.13 option2: leave and alert",
            state: vec![synced("a.txt", "v1")],
            left: vec![fp("a.txt", "v1", 0, 0o600)],
            right: vec![fp("a.txt", "v1", 0, 0o640)],
            opts: vec![o2],
            expect: vec!["conflict a.txt left_alone newer=left [6.2.13]"],
            ..Case::default()
        },
        Case {
            name: "6.2.13 option3: newer properties win, no copy",
            state: vec![synced("a.txt", "v1")],
            left: vec![fp("a.txt", "v1", 10, 0o600)],
            right: vec![fp("a.txt", "v1", 20, 0o640)],
            opts: vec![o3],
            expect: vec!["conflict a.txt newer_overwrites newer=right [6.2.13]", "set_props left a.txt [6.2.13]"],
            ..Case::default()
        },
        Case {
            name: "6.2.13 name case changed differently on both (case-insensitive)",
            state: vec![synced("report.docx", "v1")],
            left: vec![f("Report.docx", "v1", 0)],
            right: vec![f("REPORT.docx", "v1", 0)],
            opts: vec![o3],
            ci_only: true,
            expect: vec![
                "rename right REPORT.docx → Report.docx [6.2.13]",
                "conflict Report.docx newer_overwrites newer=left [6.2.13]",
                "set_props right Report.docx [6.2.13]",
            ],
            ..Case::default()
        },
        Case {
            name: "gone: deleted on both sides: forgotten",
            state: vec![synced("a.txt", "v1"), synced("keep", "k")],
            left: vec![f("keep", "k", 0)],
            right: vec![f("keep", "k", 0)],
            expect: vec!["record a.txt forget [gone]"],
            ..Case::default()
        },
        Case {
            name: "kind: file on left, folder on right",
            state: vec![synced("keep", "k")],
            left: vec![f("keep", "k", 0), f("x", "file", 5)],
            right: vec![f("keep", "k", 0), d("x"), f("x/in.txt", "in", 5)],
            expect: vec![
                "conflict x clash_copies newer=right clash=x - clash [kind]",
                "rename left x → x - clash [kind]",
                "mkdir left x [kind]",
                "copy left x/in.txt → x/in.txt [6.2.10]",
                "copy right x - clash → x - clash [kind]",
            ],
            ..Case::default()
        },
        Case {
            name: "folder deleted on left, content unchanged on right: content to trash, folder removed",
            state: vec![(Some(d("d")), Some(d("d"))), synced("d/a.txt", "a"), synced("d.txt", "sibling"), synced("d/e/b.txt", "b"), (Some(d("d/e")), Some(d("d/e")))],
            left: vec![f("d.txt", "sibling", 0)],
            right: vec![d("d"), f("d/a.txt", "a", 0), d("d/e"), f("d/e/b.txt", "b", 0), f("d.txt", "sibling", 0)],
            expect: vec!["delete right d/a.txt (trash) [6.2.7]", "delete right d/e/b.txt (trash) [6.2.7]", "rmdir right d/e [6.2.7]", "rmdir right d [6.2.7]"],
            ..Case::default()
        },
        Case {
            name: "folder deleted on left, a file in it changed on right: file and folder come back",
            state: vec![(Some(d("d")), Some(d("d"))), synced("d/a.txt", "a"), synced("d/b.txt", "b")],
            left: vec![],
            right: vec![d("d"), f("d/a.txt", "a changed", 9), f("d/b.txt", "b", 0)],
            expect: vec!["mkdir left d [6.2.5]", "copy left d/a.txt → d/a.txt [6.2.5]", "delete right d/b.txt (trash) [6.2.7]"],
            ..Case::default()
        },
        Case {
            name: "6.2.14 file renamed on left: renamed on right, nothing copied or deleted",
            state: vec![(Some(fi("a/report.docx", "the report", 0, 7)), Some(fi("a/report.docx", "the report", 0, 70))), synced("keep.txt", "k")],
            left: vec![d("a"), fi("a/final report.docx", "the report", 0, 7), f("keep.txt", "k", 0)],
            right: vec![d("a"), fi("a/report.docx", "the report", 0, 70), f("keep.txt", "k", 0)],
            expect: vec!["record a [same]", "move right a/report.docx → a/final report.docx [6.2.14]"],
            ..Case::default()
        },
        Case {
            name: "6.2.15 file moved into a new folder on right: folder made first, then the move",
            state: vec![synced("clip.mp4", "media bytes"), synced("keep.txt", "k")],
            left: vec![f("clip.mp4", "media bytes", 0), f("keep.txt", "k", 0)],
            right: vec![d("archive"), f("archive/clip.mp4", "media bytes", 0), f("keep.txt", "k", 0)],
            expect: vec!["mkdir left archive [6.2.10]", "move left clip.mp4 → archive/clip.mp4 [6.2.15]"],
            ..Case::default()
        },
        Case {
            name: "6.2.14 folder renamed on left: one move of the folder",
            state: vec![(Some(d("proj")), Some(d("proj"))), synced("proj/a.mp4", "aaaa"), synced("proj/b.mp4", "bbbbb"), (Some(d("proj/sub")), Some(d("proj/sub"))), synced("proj/sub/c.prproj", "cc")],
            left: vec![d("proj 2026"), f("proj 2026/a.mp4", "aaaa", 0), f("proj 2026/b.mp4", "bbbbb", 0), d("proj 2026/sub"), f("proj 2026/sub/c.prproj", "cc", 0)],
            right: vec![d("proj"), f("proj/a.mp4", "aaaa", 0), f("proj/b.mp4", "bbbbb", 0), d("proj/sub"), f("proj/sub/c.prproj", "cc", 0)],
            expect: vec!["move right proj → proj 2026 [6.2.14]"],
            ..Case::default()
        },
        Case {
            name: "6.2.14 folder renamed on left and a file in it edited there: one move of the folder, then the new content copied",
            state: vec![(Some(d("proj")), Some(d("proj"))), (Some(fi("proj/a.mp4", "aaaa", 0, 1)), Some(fi("proj/a.mp4", "aaaa", 0, 11))), (Some(fi("proj/b.mp4", "bbbbb", 0, 2)), Some(fi("proj/b.mp4", "bbbbb", 0, 12)))],
            left: vec![d("proj 2026"), fi("proj 2026/a.mp4", "a, edited", 5, 1), fi("proj 2026/b.mp4", "bbbbb", 0, 2)],
            right: vec![d("proj"), fi("proj/a.mp4", "aaaa", 0, 11), fi("proj/b.mp4", "bbbbb", 0, 12)],
            expect: vec!["move right proj → proj 2026 [6.2.14]", "copy right proj 2026/a.mp4 → proj 2026/a.mp4 [6.2.3]"],
            ..Case::default()
        },
        Case {
            name: "6.2.14 folder renamed on left while a file in it was edited on right: moved, then the edit follows to the new path",
            state: vec![(Some(d("proj")), Some(d("proj"))), (Some(fi("proj/a.mp4", "aaaa", 0, 1)), Some(fi("proj/a.mp4", "aaaa", 0, 11))), (Some(fi("proj/b.mp4", "bbbbb", 0, 2)), Some(fi("proj/b.mp4", "bbbbb", 0, 12)))],
            left: vec![d("proj 2026"), fi("proj 2026/a.mp4", "aaaa", 0, 1), fi("proj 2026/b.mp4", "bbbbb", 0, 2)],
            right: vec![d("proj"), fi("proj/a.mp4", "a, edited on the right", 8, 11), fi("proj/b.mp4", "bbbbb", 0, 12)],
            expect: vec!["move right proj → proj 2026 [6.2.14]", "copy left proj 2026/a.mp4 → proj 2026/a.mp4 [6.2.4]"],
            ..Case::default()
        },
        Case {
            name: "6.2.15 folder renamed on right, files in it edited on both sides: moved; each edit alone follows, both edits wait for the next plan",
            state: vec![(Some(d("p")), Some(d("p"))), (Some(fi("p/a.txt", "a1", 0, 1)), Some(fi("p/a.txt", "a1", 0, 11))), (Some(fi("p/b.txt", "b1", 0, 2)), Some(fi("p/b.txt", "b1", 0, 12))), (Some(fi("p/c.txt", "c1", 0, 3)), Some(fi("p/c.txt", "c1", 0, 13)))],
            left: vec![d("p"), fi("p/a.txt", "a2 left", 6, 1), fi("p/b.txt", "b1", 0, 2), fi("p/c.txt", "c2 on the left", 6, 3)],
            right: vec![d("q"), fi("q/a.txt", "a1", 0, 11), fi("q/b.txt", "b2, right", 7, 12), fi("q/c.txt", "c2 on the right", 7, 13)],
            expect: vec!["move left p → q [6.2.15]", "copy right q/a.txt → q/a.txt [6.2.3]", "copy left q/b.txt → q/b.txt [6.2.4]"],
            ..Case::default()
        },
        Case {
            name: "6.2.14 the other side edited the file meanwhile: moved all the same, the edit follows to the new path",
            state: vec![synced("a.txt", "v1"), synced("keep.txt", "k")],
            left: vec![d("b"), f("b/a.txt", "v1", 0), f("keep.txt", "k", 0)],
            right: vec![f("a.txt", "v2 from right", 8), f("keep.txt", "k", 0)],
            expect: vec!["mkdir right b [6.2.9]", "move right a.txt → b/a.txt [6.2.14]", "copy left b/a.txt → b/a.txt [6.2.4]"],
            ..Case::default()
        },
        Case {
            name: "6.2.15 renamed and edited on right (same id): moved on left, then the new content copied",
            state: vec![(Some(fi("plan.xlsx", "v1", 0, 5)), Some(fi("plan.xlsx", "v1", 0, 50))), synced("keep.txt", "k")],
            left: vec![fi("plan.xlsx", "v1", 0, 5), f("keep.txt", "k", 0)],
            right: vec![fi("plan 2.xlsx", "v2, edited", 6, 50), f("keep.txt", "k", 0)],
            expect: vec!["move left plan.xlsx → plan 2.xlsx [6.2.15]", "copy left plan 2.xlsx → plan 2.xlsx [6.2.4]"],
            ..Case::default()
        },
        Case {
            name: "without ids a changed file is never paired: delete and copy",
            state: vec![synced("a.txt", "v1"), synced("keep.txt", "k")],
            left: vec![d("b"), f("b/a.txt", "v1 edited", 6), f("keep.txt", "k", 0)],
            right: vec![f("a.txt", "v1", 0), f("keep.txt", "k", 0)],
            expect: vec!["mkdir right b [6.2.9]", "copy right b/a.txt → b/a.txt [6.2.9]", "delete right a.txt (trash) [6.2.7]"],
            ..Case::default()
        },
        Case {
            name: "another file renamed over a path, same size and mtime: the new inode makes it a change (6.2.3)",
            state: vec![(Some(fi("d/e.txt", "v1 e", 0, 5)), Some(fi("d/e.txt", "v1 e", 0, 50))), synced("keep.txt", "k")],
            left: vec![d("d"), fi("d/e.txt", "v1 c", 0, 6), f("keep.txt", "k", 0)],
            right: vec![d("d"), fi("d/e.txt", "v1 e", 0, 50), f("keep.txt", "k", 0)],
            expect: vec!["record d [same]", "copy right d/e.txt → d/e.txt [6.2.3]"],
            ..Case::default()
        },
        Case {
            name: "the other side deleted the file: the new path is a new file (6.2.9), no move",
            state: vec![synced("a.txt", "v1"), synced("keep.txt", "k")],
            left: vec![f("b.txt", "v1", 0), f("keep.txt", "k", 0)],
            right: vec![f("keep.txt", "k", 0)],
            expect: vec!["record a.txt forget [gone]", "copy right b.txt → b.txt [6.2.9]"],
            ..Case::default()
        },
        Case {
            name: "the other side has something at the new path: no move, both names kept",
            state: vec![synced("a.txt", "v1"), synced("keep.txt", "k")],
            left: vec![f("b.txt", "v1", 0), f("keep.txt", "k", 0)],
            right: vec![f("a.txt", "v1", 0), f("b.txt", "other", 3), f("keep.txt", "k", 0)],
            expect: vec!["conflict b.txt clash_copies newer=right clash=b - clash.txt [6.2.2]", "rename left b.txt → b - clash.txt [6.2.2]", "copy right b - clash.txt → b - clash.txt [6.2.2]", "copy left b.txt → b.txt [6.2.2]", "delete right a.txt (trash) [6.2.7]"],
            ..Case::default()
        },
        Case {
            name: "moved on both sides to different names: no move, both names kept",
            state: vec![synced("a.txt", "v1"), synced("keep.txt", "k")],
            left: vec![f("b.txt", "v1", 0), f("keep.txt", "k", 0)],
            right: vec![f("c.txt", "v1", 0), f("keep.txt", "k", 0)],
            expect: vec!["record a.txt forget [gone]", "copy right b.txt → b.txt [6.2.9]", "copy left c.txt → c.txt [6.2.10]"],
            ..Case::default()
        },
        Case {
            name: "no-id match must be unique: two identical candidates are no move",
            state: vec![synced("a.txt", "same"), synced("keep.txt", "k")],
            left: vec![d("x"), f("x/a.txt", "same", 0), d("y"), f("y/a.txt", "same", 0), f("keep.txt", "k", 0)],
            right: vec![f("a.txt", "same", 0), f("keep.txt", "k", 0)],
            expect: vec!["mkdir right x [6.2.9]", "mkdir right y [6.2.9]", "copy right x/a.txt → x/a.txt [6.2.9]", "copy right y/a.txt → y/a.txt [6.2.9]", "delete right a.txt (trash) [6.2.7]"],
            ..Case::default()
        },
        Case {
            name: "detect_moves = false: delete and copy as before",
            state: vec![synced("a.txt", "v1"), synced("keep.txt", "k")],
            left: vec![f("b.txt", "v1", 0), f("keep.txt", "k", 0)],
            right: vec![f("a.txt", "v1", 0), f("keep.txt", "k", 0)],
            opts: vec![no_moves],
            expect: vec!["copy right b.txt → b.txt [6.2.9]", "delete right a.txt (trash) [6.2.7]"],
            ..Case::default()
        },
        Case {
            name: "deferred path (still being written): nothing planned",
            state: vec![synced("a.txt", "v1")],
            left: vec![f("a.txt", "v2 longer", 10)],
            right: vec![f("a.txt", "v1", 0)],
            deferred: vec!["a.txt"],
            expect: vec![],
            ..Case::default()
        },
    ]
}

impl Case {
    /// Adds a path synced and unchanged on both sides (keeps the state non-empty).
    fn with_both(mut self, p: &'static str, data: &'static str) -> Self {
        self.state.push(synced(p, data));
        if !self.left.iter().any(|x| x.path == p) {
            self.left.push(f(p, data, 0));
        }
        if !self.right.iter().any(|x| x.path == p) {
            self.right.push(f(p, data, 0));
        }
        self
    }
}

#[test]
fn rule_table_pure_case_sensitive() {
    for c in cases().iter().filter(|c| !c.ci_only) {
        assert_eq!(run_case(c, true, false), c.expect, "case: {}", c.name);
    }
}

#[test]
fn rule_table_pure_case_insensitive() {
    for c in cases() {
        assert_eq!(run_case(&c, false, false), c.expect, "case: {}", c.name);
    }
}

#[test]
fn rule_table_on_memfs_case_insensitive_2s() {
    for c in cases() {
        assert_eq!(run_case(&c, false, true), c.expect, "case: {}", c.name);
    }
}

#[test]
fn classify_covers_every_change() {
    let base = f("a", "xx", 0).entry();
    assert_eq!(classify(None, None), Class::Absent);
    assert_eq!(classify(None, Some(&base)), Class::New);
    assert_eq!(classify(Some(&base), None), Class::Deleted);
    assert_eq!(classify(Some(&base), Some(&base)), Class::Unchanged);
    assert_eq!(
        classify(Some(&base), Some(&f("a", "xxx", 0).entry())),
        Class::Content
    );
    let mut touched = f("a", "xx", 9).entry();
    assert_eq!(
        classify(Some(&base), Some(&touched)),
        Class::Props,
        "same hash"
    );
    touched.hash = None;
    assert_eq!(
        classify(Some(&base), Some(&touched)),
        Class::Content,
        "hash unknown"
    );
    assert_eq!(
        classify(Some(&base), Some(&fp("a", "xx", 0, 0o600).entry())),
        Class::Props
    );
    assert_eq!(
        classify(Some(&base), Some(&f("A", "xx", 0).entry())),
        Class::Props
    );
    assert_eq!(classify(Some(&base), Some(&d("a").entry())), Class::Content);
}

#[test]
fn hashes_are_requested_only_when_they_decide() {
    let o = opts();
    let state: StateMap = std::iter::once((
        "a".to_owned(),
        StateRow {
            left: Some(f("a", "xx", 0).entry()),
            right: Some(f("a", "xx", 0).entry()),
        },
    ))
    .collect();
    let mut touched = f("a", "xx", 9).entry();
    touched.hash = None;
    let mut l = SideScan::default();
    l.entries.insert("a", touched);
    let mut r = SideScan::default();
    r.entries.insert("a", f("a", "xx", 0).entry());
    let empty = HashMap::new();
    let none = HashSet::new();
    let input = Input {
        left: &l,
        right: &r,
        state: &state,
        conflicts: &empty,
        deferred: &none,
        opts: &o,
    };
    assert_eq!(hash_requests(&input), vec![(Side::Left, "a".to_owned())]);
    // Unchanged trees request nothing.
    let mut l2 = SideScan::default();
    l2.entries.insert("a", f("a", "xx", 0).entry());
    let input = Input {
        left: &l2,
        right: &r,
        state: &state,
        conflicts: &empty,
        deferred: &none,
        opts: &o,
    };
    assert!(hash_requests(&input).is_empty());
}

#[test]
fn unknown_folder_plans_nothing_below_it() {
    let o = opts();
    let state: StateMap = std::iter::once((
        "d/a".to_owned(),
        StateRow {
            left: Some(f("d/a", "x", 0).entry()),
            right: Some(f("d/a", "x", 0).entry()),
        },
    ))
    .collect();
    let mut l = SideScan::default();
    l.unknown.push("d".into());
    let mut r = SideScan::default();
    r.entries.insert("d/a", f("d/a", "x", 0).entry());
    let empty = HashMap::new();
    let none = HashSet::new();
    let input = Input {
        left: &l,
        right: &r,
        state: &state,
        conflicts: &empty,
        deferred: &none,
        opts: &o,
    };
    let (ops, deferred) = reconcile(&input);
    assert!(ops.is_empty());
    assert_eq!(deferred, 1);
}

#[test]
fn nfc_and_nfd_names_are_one_path_and_each_side_keeps_its_bytes() {
    const NFC: &str = "caf\u{e9}.txt";
    const NFD: &str = "cafe\u{301}.txt";
    let plan = |state: &StateMap, left: &SideScan, right: &SideScan, cs: bool| {
        let mut o = opts();
        o.case_sensitive = cs;
        let (empty, none) = (HashMap::new(), HashSet::new());
        let input = Input {
            left,
            right,
            state,
            conflicts: &empty,
            deferred: &none,
            opts: &o,
        };
        reconcile(&input).0
    };
    // Pure snapshots in both case modes, and scans of the in-memory fs
    // (case-insensitive, which keeps NFC and NFD as two spellings).
    for (cs, mem) in [(true, false), (false, false), (false, true)] {
        let scan = |files: &[F]| {
            if mem {
                mem_scan(files)
            } else {
                scan_of(files, cs)
            }
        };
        let (l, r) = (scan(&[f(NFC, "same", 0)]), scan(&[f(NFD, "same", 0)]));
        let first = plan(&std::iter::empty().collect(), &l, &r, cs);
        assert_eq!(
            describe(&first),
            [format!("record {NFC} [same]")],
            "cs {cs} mem {mem}"
        );
        // The state the record op leaves behind: each side's own bytes.
        let state: StateMap = first
            .iter()
            .map(|op| {
                let Step::Record(rec) = &op.step else {
                    unreachable!()
                };
                let rec = &rec.record;
                let row = StateRow {
                    left: rec.left.clone(),
                    right: rec.right.clone(),
                };
                (op.key.clone(), row)
            })
            .collect();
        let row = state.get(&crate::paths::key_of(NFD, cs)).unwrap();
        assert_eq!(row.left.as_ref().unwrap().path, NFC);
        assert_eq!(row.right.as_ref().unwrap().path, NFD);
        assert!(plan(&state, &l, &r, cs).is_empty(), "cs {cs} mem {mem}");
        // A side that re-spells the name in the other form is no rename.
        let (l2, r2) = (scan(&[f(NFD, "same", 0)]), scan(&[f(NFC, "same", 0)]));
        assert!(plan(&state, &l2, &r2, cs).is_empty(), "cs {cs} mem {mem}");
        assert!(unchanged_on_both(
            &crate::paths::key_of(NFC, cs),
            row,
            l2.entries.values().next(),
            r2.entries.values().next()
        ));
    }
}

// ---- `[[rules]]`: the same change under two rules (SPEC §3 "Rules per folder")

/// Compiles `raw` as the case's `[[rules]]` (with the case's identity).
fn with_rules(o: &mut Options, raw: &[RawRule]) {
    o.rules = FolderRules::new(raw, o.case_sensitive).unwrap();
}

fn rule(path: &str) -> RawRule {
    RawRule {
        path: path.into(),
        ..RawRule::default()
    }
}

/// Runs `c` on the pure engine with both identities; each run must plan
/// `c.expect`.
fn check(c: &Case) {
    for (cs, mem) in [(true, false), (false, false)] {
        assert_eq!(
            run_case(c, cs, mem),
            c.expect,
            "case: {} (case-sensitive {cs}, memfs {mem})",
            c.name
        );
    }
}

/// Deleted on the right, unchanged on the left: `path` with `data`.
fn deleted_right(c: &mut Case, path: &'static str, data: &'static str) {
    c.state.push(synced(path, data));
    c.left.push(f(path, data, 0));
}

#[test]
fn rules_hard_and_soft_delete_and_the_trash_limit() {
    let mut c = Case {
        name: "a delete under `delete = hard`, `soft_delete_max_bytes` and `delete = soft`",
        opts: vec![no_trash, |o| {
            with_rules(
                o,
                &[
                    RawRule {
                        delete: Some(DeleteMode::Hard),
                        ..rule("Temp/**")
                    },
                    RawRule {
                        delete: Some(DeleteMode::Soft),
                        soft_delete_max_bytes: Some(4),
                        ..rule("Media/**")
                    },
                    RawRule {
                        delete: Some(DeleteMode::Soft),
                        ..rule("Docs/**")
                    },
                ],
            );
        }],
        ..Case::default()
    };
    deleted_right(&mut c, "Docs/a.txt", "data");
    deleted_right(&mut c, "Media/big.mov", "12345");
    deleted_right(&mut c, "Media/s.mov", "1234");
    deleted_right(&mut c, "Other/o.txt", "data");
    deleted_right(&mut c, "Temp/a.txt", "data");
    c.expect = vec![
        "delete left Docs/a.txt (trash) [6.2.8]",
        "delete left Media/big.mov (hard) [6.2.8]",
        "delete left Media/s.mov (trash) [6.2.8]",
        "delete left Other/o.txt (hard) [6.2.8]",
        "delete left Temp/a.txt (hard) [6.2.8]",
    ];
    check(&c);
    // Global trash on: only the `hard` rule deletes for good, and says so.
    c.opts.remove(0);
    c.expect[3] = "delete left Other/o.txt (trash) [6.2.8]";
    check(&c);
    let ops = plan_case(&c, false, false);
    let temp = ops.iter().find(|o| o.path == "Temp/a.txt").unwrap();
    assert!(temp.reason.contains("deleted for good"), "{}", temp.reason);
    assert_eq!(temp.policy.as_deref(), Some("Temp/**"));
    let other = ops.iter().find(|o| o.path == "Other/o.txt").unwrap();
    assert_eq!(other.policy, None, "no rule: the global settings");
}

#[test]
fn rules_the_first_matching_rule_wins() {
    let mut c = Case {
        name: "Temp/keep/** (soft) before Temp/** (hard)",
        opts: vec![|o| {
            with_rules(
                o,
                &[
                    RawRule {
                        delete: Some(DeleteMode::Soft),
                        ..rule("Temp/keep/**")
                    },
                    RawRule {
                        delete: Some(DeleteMode::Hard),
                        ..rule("Temp/**")
                    },
                    RawRule {
                        delete: Some(DeleteMode::Soft),
                        ..rule("*.txt")
                    },
                ],
            );
        }],
        ..Case::default()
    };
    deleted_right(&mut c, "Temp/keep/a.txt", "data");
    deleted_right(&mut c, "Temp/x/b.txt", "data");
    c.expect = vec![
        "delete left Temp/keep/a.txt (trash) [6.2.8]",
        "delete left Temp/x/b.txt (hard) [6.2.8]",
    ];
    check(&c);
    let ops = plan_case(&c, true, false);
    let policies: Vec<_> = ops.iter().map(|o| o.policy.as_deref()).collect();
    assert_eq!(policies, vec![Some("Temp/keep/**"), Some("Temp/**")]);
    // The plan file: every op names its `policy`: the rule's path when a
    // rule decided, `null` when the global settings did; plans recorded
    // before it (no key) load as the global settings.
    let json = serde_json::to_value(&ops[1]).unwrap();
    assert_eq!(json["policy"], "Temp/**");
    let mut plain = ops[1].clone();
    plain.policy = None;
    let mut json = serde_json::to_value(&plain).unwrap();
    assert_eq!(json.get("policy"), Some(&serde_json::Value::Null), "{json}");
    json.as_object_mut().unwrap().remove("policy");
    let back: Op = serde_json::from_value(json).unwrap();
    assert_eq!(back.policy, None);
}

#[test]
fn rules_conflict_options_and_lanes_per_folder() {
    let c = Case {
        name: "changed on both sides: Accounts/** leaves it, elsewhere clash copies",
        state: vec![
            synced("Accounts/l.xlsx", "base"),
            synced("Docs/l.xlsx", "base"),
        ],
        left: vec![
            f("Accounts/l.xlsx", "left edit", 20),
            f("Docs/l.xlsx", "left edit", 20),
        ],
        right: vec![
            f("Accounts/l.xlsx", "right edit!", 10),
            f("Docs/l.xlsx", "right edit!", 10),
        ],
        opts: vec![|o| {
            with_rules(
                o,
                &[RawRule {
                    same_file_changed_both: Some(ConflictOption::LEAVE),
                    ..rule("Accounts/**")
                }],
            );
        }],
        expect: vec![
            "conflict Accounts/l.xlsx left_alone newer=left [6.2.1]",
            "conflict Docs/l.xlsx clash_copies newer=left clash=Docs/l - clash.xlsx [6.2.1]",
            "rename right Docs/l.xlsx → Docs/l - clash.xlsx [6.2.1]",
            "copy right Docs/l.xlsx → Docs/l.xlsx [6.2.1]",
            "copy left Docs/l - clash.xlsx → Docs/l - clash.xlsx [6.2.1]",
        ],
        ..Case::default()
    };
    check(&c);
    // `large_file_bytes`: the same 9-byte copy goes by the large lane under Video/**.
    let c = Case {
        name: "large_file_bytes per folder",
        left: vec![
            f("Video/a.mov", "123456789", 0),
            f("Docs/a.mov", "123456789", 0),
        ],
        opts: vec![|o| {
            with_rules(
                o,
                &[RawRule {
                    large_file_bytes: Some(8),
                    ..rule("Video/**")
                }],
            );
        }],
        ..Case::default()
    }
    .with_both("x", "x");
    let lanes: Vec<_> = plan_case(&c, true, false)
        .iter()
        .filter_map(|o| match &o.step {
            Step::Copy(s) => Some((o.path.clone(), s.lane)),
            _ => None,
        })
        .collect();
    assert_eq!(
        lanes,
        vec![
            ("Docs/a.mov".to_owned(), crate::plan::Lane::Small),
            ("Video/a.mov".to_owned(), crate::plan::Lane::Large)
        ]
    );
}

#[test]
fn rules_one_way_subtree_never_carries_back_and_never_loses() {
    let mut c = Case {
        name: "Out/** left-to-right next to a two-way In/**",
        opts: vec![|o| {
            with_rules(
                o,
                &[RawRule {
                    direction: Some(Direction::LeftToRight),
                    ..rule("Out/**")
                }],
            );
        }],
        ..Case::default()
    };
    for dir in ["In", "Out"] {
        let p =
            |name: &str| -> &'static str { Box::leak(format!("{dir}/{name}").into_boxed_str()) };
        // Deleted on the right (the read-only side of Out/**).
        deleted_right(&mut c, p("del.txt"), "data");
        // Changed on the right only.
        c.state.push(synced(p("ch.txt"), "base"));
        c.left.push(f(p("ch.txt"), "base", 0));
        c.right.push(f(p("ch.txt"), "right edit", 10));
        // New on the right only.
        c.right.push(f(p("new.txt"), "r", 10));
        // Changed on both sides: the source wins, the right version is kept.
        c.state.push(synced(p("both.txt"), "base"));
        c.left.push(f(p("both.txt"), "left edit", 10));
        c.right.push(f(p("both.txt"), "right edit!", 20));
        // Changed on the left: carried over as usual.
        c.state.push(synced(p("l.txt"), "base"));
        c.left.push(f(p("l.txt"), "left edit", 10));
        c.right.push(f(p("l.txt"), "base", 0));
    }
    c.expect = vec![
        // Out/: changes on the read-only right are reported, not carried back.
        "record Out/ch.txt [6.2.4]",
        "record Out/new.txt forget [6.2.10]",
        "conflict In/both.txt clash_copies newer=right clash=In/both - clash.txt [6.2.1]",
        "rename left In/both.txt → In/both - clash.txt [6.2.1]",
        // Out/: the source (left) wins although the right is newer; the
        // right version stays on the right as a clash copy.
        "rename right Out/both.txt → Out/both - clash.txt [6.2.1]",
        "copy left In/new.txt → In/new.txt [6.2.10]",
        // Out/: deleted on the read-only side, restored from the source.
        "copy right Out/del.txt → Out/del.txt [6.2.6]",
        "copy right In/both - clash.txt → In/both - clash.txt [6.2.1]",
        "copy right In/l.txt → In/l.txt [6.2.3]",
        "copy right Out/both.txt → Out/both.txt [6.2.1]",
        "copy right Out/l.txt → Out/l.txt [6.2.3]",
        "copy left In/ch.txt → In/ch.txt [6.2.4]",
        "copy left In/both.txt → In/both.txt [6.2.1]",
        "delete left In/del.txt (trash) [6.2.8]",
    ];
    check(&c);
    for op in plan_case(&c, false, false) {
        let want = op.path.starts_with("Out/").then_some("Out/**");
        assert_eq!(op.policy.as_deref(), want, "{}", op.path);
        if op.path.starts_with("Out/") && op.kind() == OpKind::Record {
            assert!(op.reason.contains("one-way rule `Out/**`"), "{}", op.reason);
        }
    }
    // The clash copy the conflict left on the read-only side is never
    // carried to the source either.
    let next = Case {
        name: "the clash copy on the read-only side, next cycle",
        state: vec![(None, Some(f("Out/both - clash.txt", "right edit!", 20)))],
        right: vec![f("Out/both - clash.txt", "right edit!", 20)],
        opts: c.opts.clone(),
        ..Case::default()
    }
    .with_both("x", "x");
    assert!(run_case(&next, true, false).is_empty());
    // A delete on the source side still flows to the read-only side.
    let mut gone = Case {
        name: "deleted on the source",
        opts: c.opts.clone(),
        ..Case::default()
    };
    gone.state.push(synced("Out/a.txt", "data"));
    gone.right.push(f("Out/a.txt", "data", 0));
    gone.expect = vec!["delete right Out/a.txt (trash) [6.2.7]"];
    check(&gone);
    // A move on the read-only side: the old path is restored, the new one reported.
    let moved = Case {
        name: "moved on the read-only side",
        state: vec![(
            Some(fi("Out/a.txt", "data", 0, 7)),
            Some(fi("Out/a.txt", "data", 0, 7)),
        )],
        left: vec![fi("Out/a.txt", "data", 0, 7)],
        right: vec![fi("Out/b.txt", "data", 0, 7)],
        opts: c.opts.clone(),
        expect: vec![
            "record Out/b.txt forget [6.2.10]",
            "copy right Out/a.txt → Out/a.txt [6.2.6]",
        ],
        ..Case::default()
    }
    .with_both("x", "x");
    check(&moved);
}

#[test]
fn rules_hash_false_never_asks_for_a_hash() {
    let mut o = opts();
    let state: StateMap = ["a", "Video/a"]
        .into_iter()
        .map(|p| {
            (
                p.to_lowercase(),
                StateRow {
                    left: Some(f(p, "xx", 0).entry()),
                    right: Some(f(p, "xx", 0).entry()),
                },
            )
        })
        .collect();
    let (mut l, mut r) = (SideScan::default(), SideScan::default());
    for p in ["a", "Video/a"] {
        let mut touched = f(p, "xx", 9).entry();
        touched.hash = None;
        l.entries.insert(&p.to_lowercase(), touched);
        r.entries.insert(&p.to_lowercase(), f(p, "xx", 0).entry());
    }
    with_rules(
        &mut o,
        &[RawRule {
            hash: Some(false),
            ..rule("Video/**")
        }],
    );
    let (empty, none) = (HashMap::new(), HashSet::new());
    let input = Input {
        left: &l,
        right: &r,
        state: &state,
        conflicts: &empty,
        deferred: &none,
        opts: &o,
    };
    assert_eq!(hash_requests(&input), vec![(Side::Left, "a".to_owned())]);
    // Size and mtime decide: the touched file is a change, copied over.
    let ops = describe(&reconcile(&input).0);
    assert!(
        ops.contains(&"copy right Video/a → Video/a [6.2.3]".to_owned()),
        "{ops:?}"
    );
}

// ---- What a scan could not sync is unknown, never absent (the audit of
// the release binary).

/// Plans from hand-made scans, for what the `Case` table cannot say (a
/// link, a skipped name, what the rules leave out): the ops and the
/// number of paths left for a later cycle.
fn plan_scans(
    state: &[(Option<F>, Option<F>)],
    left: &SideScan,
    right: &SideScan,
    o: &Options,
) -> (Vec<String>, u64) {
    let c = Case {
        state: state.to_vec(),
        ..Case::default()
    };
    let state = state_of(&c, o.case_sensitive);
    let (empty, none) = (HashMap::new(), HashSet::new());
    let input = Input {
        left,
        right,
        state: &state,
        conflicts: &empty,
        deferred: &none,
        opts: o,
    };
    let (ops, later) = reconcile(&input);
    (describe(&ops), later)
}

/// Audit item 1: a link (symlink, junction) that the scan skips is
/// unknown, never absent: nothing at or below it is planned on either
/// side (no folder made through it, nothing copied into it, nothing
/// deleted on the other side), and it is not "left for later" (it waits
/// for the admin, as a skipped path).
#[test]
fn a_skipped_link_is_left_alone_on_both_sides() {
    for cs in [true, false] {
        let o = Options {
            case_sensitive: cs,
            ..opts()
        };
        let keep = synced("keep.txt", "k");
        // The repro: a link on the left, a new folder with a file at its name on the right.
        for link_left in [true, false] {
            let mut linked = scan_of(&[f("keep.txt", "k", 0)], cs);
            linked.blocked.push("esc".into());
            let other = scan_of(
                &[f("keep.txt", "k", 0), d("esc"), f("esc/new.txt", "r", 0)],
                cs,
            );
            let (l, r) = if link_left {
                (&linked, &other)
            } else {
                (&other, &linked)
            };
            let (ops, later) = plan_scans(std::slice::from_ref(&keep), l, r, &o);
            assert!(ops.is_empty(), "left {link_left}: {ops:?}");
            assert_eq!(later, 0, "waits for the admin, not for a later cycle");
        }
        // A synced folder replaced by a link: what it held is not deleted on the other side.
        let state = [
            (Some(d("d")), Some(d("d"))),
            synced("d/x.txt", "x"),
            keep.clone(),
        ];
        let mut l = scan_of(&[f("keep.txt", "k", 0)], cs);
        l.blocked.push("d".into());
        let r = scan_of(&[d("d"), f("d/x.txt", "x", 0), f("keep.txt", "k", 0)], cs);
        let (ops, _) = plan_scans(&state, &l, &r, &o);
        assert!(ops.is_empty(), "{ops:?}");
    }
}

/// Audit item 2, SPEC §3: what a `[[rules]]` entry excludes is left alone
/// on both sides, never deleted. A folder removed on one side whose twin
/// holds such entries is kept with them, and its parents too (not made
/// again on the side that removed them: nothing of theirs is synced); the
/// rest of it is dealt with as before (here: its synced file to trash).
#[test]
fn a_removed_folder_keeps_what_the_rules_leave_out() {
    for cs in [true, false] {
        let o = Options {
            case_sensitive: cs,
            ..opts()
        };
        let state = [
            (Some(d("D")), Some(d("D"))),
            synced("D/a.txt", "a"),
            (Some(d("D/keep")), Some(d("D/keep"))),
            synced("keep.txt", "k"),
        ];
        let l = scan_of(&[f("keep.txt", "k", 0)], cs);
        let mut r = scan_of(
            &[
                d("D"),
                f("D/a.txt", "a", 0),
                d("D/keep"),
                f("keep.txt", "k", 0),
            ],
            cs,
        );
        // Without what the rules leave out, all of it goes, as before.
        let (ops, _) = plan_scans(&state, &l, &r, &o);
        assert_eq!(
            ops,
            [
                "delete right D/a.txt (trash) [6.2.7]",
                "rmdir right D/keep [6.2.7]",
                "rmdir right D [6.2.7]"
            ]
        );
        r.ruled_out.push(crate::paths::key_of("D/keep/k.txt", cs));
        let (ops, later) = plan_scans(&state, &l, &r, &o);
        assert_eq!(ops, ["delete right D/a.txt (trash) [6.2.7]"], "cs {cs}");
        assert_eq!(later, 0);
        // Another folder beside it, removed with nothing held: removed.
        let mut state = state.to_vec();
        state.push((Some(d("D/other")), Some(d("D/other"))));
        r.entries
            .insert(&crate::paths::key_of("D/other", cs), d("D/other").entry());
        let (ops, _) = plan_scans(&state, &l, &r, &o);
        assert_eq!(
            ops,
            [
                "delete right D/a.txt (trash) [6.2.7]",
                "rmdir right D/other [6.2.7]"
            ],
            "cs {cs}"
        );
    }
}

/// Audit item 3: a file renamed on one side to a name the other side
/// cannot hold (`ok?.txt`, skipped by the scan) is not a delete: the gone
/// path is held when the skipped entry is the same file (same file id
/// where the side has ids; without ids, a file of the same size and mtime
/// in the same folder), so the other side's copy stays; the skipped name
/// is reported as before. Another file under a skipped name holds nothing.
#[test]
fn a_file_renamed_to_a_name_the_other_side_cannot_hold_is_not_deleted() {
    use crate::scan::Skip;
    for (cs, ids) in [(true, true), (false, true), (true, false), (false, false)] {
        let o = Options {
            case_sensitive: cs,
            ..opts()
        };
        let id = if ids { 7 } else { 0 };
        let state = [
            (Some(d("d")), Some(d("d"))),
            (
                Some(fi("d/ok.txt", "v1", 0, id)),
                Some(fi("d/ok.txt", "v1", 0, id + 70)),
            ),
            synced("keep.txt", "k"),
        ];
        let right = scan_of(
            &[
                d("d"),
                fi("d/ok.txt", "v1", 0, id + 70),
                f("keep.txt", "k", 0),
            ],
            cs,
        );
        // `what` stands for the entry under the skipped name.
        let plan_with = |what: F| {
            let mut left = scan_of(&[d("d"), f("keep.txt", "k", 0)], cs);
            let e = what.entry();
            let meta = crate::fs::Meta {
                kind: e.kind,
                size: e.size,
                mtime: e.mtime,
                props: e.props,
                offline: false,
                id: e.id,
            };
            left.skipped.push(Skip::named(
                what.path,
                "`?` is not allowed on Windows",
                Some(meta),
            ));
            left.blocked.push(crate::paths::key_of(what.path, cs));
            let c = Case {
                state: state.to_vec(),
                ..Case::default()
            };
            let mut scans = PerSide::new(left, right.clone());
            hold_renamed(&state_of(&c, cs), &mut scans, cs);
            plan_scans(&state, &scans.left, &scans.right, &o)
        };
        let (ops, later) = plan_with(fi("d/ok?.txt", "v1", 0, id));
        assert!(ops.is_empty(), "cs {cs} ids {ids}: {ops:?}");
        assert_eq!(later, 0);
        // Another file under a skipped name (another id; without ids,
        // another size): the rename is a delete as before.
        let other = if ids {
            fi("d/ok?.txt", "v1", 0, 8)
        } else {
            f("d/ok?.txt", "v1 but longer", 0)
        };
        let (ops, _) = plan_with(other);
        assert_eq!(
            ops,
            ["delete right d/ok.txt (trash) [6.2.7]"],
            "cs {cs} ids {ids}"
        );
        // Without ids, a same-looking file in another folder holds nothing.
        if !ids {
            let (ops, _) = plan_with(f("e?/ok.txt", "v1", 0));
            assert_eq!(ops, ["delete right d/ok.txt (trash) [6.2.7]"], "cs {cs}");
        }
    }
}
