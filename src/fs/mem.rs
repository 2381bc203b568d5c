//! An in-memory file system for tests.
//!
//! Options emulate the roots twinsync meets on Windows: case-insensitive but
//! case-preserving names (`a.TXT` replaces `A.txt` and keeps the stored
//! name, as NTFS does; NFC and NFD spellings stay two names, as on NTFS and
//! ext4), and coarse timestamps (FAT and many cloud drives keep 2 s). A
//! clock that tests advance stamps every write. Cloning a `MemFs` shares the
//! same tree.

use super::{ExcludeFn, FileWriter, Fs, FsError, Kind, Meta, WalkResult};
use crate::paths;
use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Clone)]
struct Node {
    path: String,
    kind: Kind,
    data: Arc<Vec<u8>>,
    mtime: i64,
    props: u32,
    /// Inode-like id: kept by renames and overwrites, new for new nodes.
    ino: u64,
    /// A cloud placeholder (content not local).
    offline: bool,
}

#[derive(Debug)]
struct Tree {
    nodes: BTreeMap<String, Node>,
    clock: i64,
    root_present: bool,
    next_ino: u64,
    /// What [`Fs::free_space`] answers (set by tests).
    free_space: Option<u64>,
}

impl Tree {
    fn ino(&mut self) -> u64 {
        self.next_ino += 1;
        self.next_ino
    }
}

/// An in-memory tree; see the module docs.
#[derive(Debug, Clone)]
pub struct MemFs {
    tree: Arc<Mutex<Tree>>,
    case_insensitive: bool,
    granularity_ns: i64,
    label: String,
    /// Reports file ids (like a local disk); off emulates a cloud drive
    /// that has none.
    ids: bool,
    /// Ids only when asked one path at a time (`file_id`), not in stats and
    /// listings: how Windows behaves.
    ids_on_query: bool,
}

impl MemFs {
    /// A new empty root. `granularity_ns` rounds every stored mtime down
    /// (1 = exact; `2_000_000_000` = FAT-like 2 s).
    #[must_use]
    pub fn new(label: &str, case_insensitive: bool, granularity_ns: i64) -> Self {
        Self {
            tree: Arc::new(Mutex::new(Tree {
                nodes: BTreeMap::new(),
                clock: 1_700_000_000_000_000_000,
                root_present: true,
                next_ino: 0,
                free_space: None,
            })),
            case_insensitive,
            granularity_ns: granularity_ns.max(1),
            label: label.to_owned(),
            ids: true,
            ids_on_query: false,
        }
    }

    /// Sets what [`Fs::free_space`] answers (`None`: not known, the
    /// default), for every clone of this tree.
    pub fn set_free_space(&self, bytes: Option<u64>) {
        self.lock().free_space = bytes;
    }

    /// The same tree, with ids only from `file_id` (like Windows listings).
    #[must_use]
    pub fn ids_on_query(mut self) -> Self {
        self.ids_on_query = true;
        self
    }

    /// The same tree, reporting no file ids (a cloud drive without them).
    #[must_use]
    pub fn without_ids(mut self) -> Self {
        self.ids = false;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        match self.tree.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Node key: case folded like NTFS when case-insensitive, else the exact
    /// path. Never normalised: NTFS and ext4 keep an NFC and an NFD
    /// spelling as two names (twinsync's identity keys do not).
    fn key(&self, p: &str) -> String {
        if self.case_insensitive {
            paths::fold(p)
        } else {
            p.to_owned()
        }
    }

    fn round(&self, t: i64) -> i64 {
        t - t.rem_euclid(self.granularity_ns)
    }

    /// Advances the clock used to stamp writes.
    pub fn advance(&self, ns: i64) {
        self.lock().clock += ns;
    }

    /// Current clock value.
    #[must_use]
    pub fn now(&self) -> i64 {
        self.lock().clock
    }

    /// Makes the root vanish or come back (drive unplugged).
    pub fn set_root_present(&self, present: bool) {
        self.lock().root_present = present;
    }

    /// Test helper: writes a file (creating parents), stamped with the clock.
    pub fn put(&self, path: &str, data: &[u8]) {
        let mut t = self.lock();
        let mtime = self.round(t.clock);
        self.mkdirs_locked(&mut t, paths::parent(path), mtime);
        let key = self.key(path);
        let (exact, ino) = match t.nodes.get(&key) {
            Some(n) => (n.path.clone(), n.ino),
            None => (path.to_owned(), t.ino()),
        };
        t.nodes.insert(
            key,
            Node {
                path: exact,
                kind: Kind::File,
                data: Arc::new(data.to_vec()),
                mtime,
                props: 0o644,
                ino,
                offline: false,
            },
        );
    }

    /// Test helper: marks a file as a cloud placeholder (or not).
    pub fn set_offline(&self, path: &str, offline: bool) {
        let key = self.key(path);
        if let Some(n) = self.lock().nodes.get_mut(&key) {
            n.offline = offline;
        }
    }

    /// Test helper: the content of a file, if it exists.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        let t = self.lock();
        t.nodes
            .get(&self.key(path))
            .filter(|n| n.kind == Kind::File)
            .map(|n| n.data.as_ref().clone())
    }

    /// Test helper: every entry as (exact path, Some(content) for files).
    #[must_use]
    pub fn dump(&self) -> BTreeMap<String, Option<Vec<u8>>> {
        let t = self.lock();
        t.nodes
            .values()
            .map(|n| {
                let d = (n.kind == Kind::File).then(|| n.data.as_ref().clone());
                (n.path.clone(), d)
            })
            .collect()
    }

    fn mkdirs_locked(&self, t: &mut Tree, dir: &str, mtime: i64) {
        if dir.is_empty() {
            return;
        }
        self.mkdirs_locked(t, paths::parent(dir), mtime);
        let key = self.key(dir);
        if !t.nodes.contains_key(&key) {
            let ino = t.ino();
            t.nodes.insert(
                key,
                Node {
                    path: dir.to_owned(),
                    kind: Kind::Dir,
                    data: Arc::new(Vec::new()),
                    mtime,
                    props: 0o755,
                    ino,
                    offline: false,
                },
            );
        }
    }

    #[allow(clippy::unused_self)]
    fn check_root(&self, t: &Tree, op: &'static str, path: &str) -> Result<(), FsError> {
        if t.root_present {
            Ok(())
        } else {
            Err(FsError::synthetic(
                op,
                path,
                super::ErrorClass::NotFound,
                "root is gone",
            ))
        }
    }

    fn parent_is_dir(&self, t: &Tree, path: &str) -> bool {
        let p = paths::parent(path);
        p.is_empty()
            || t.nodes
                .get(&self.key(p))
                .is_some_and(|n| n.kind == Kind::Dir)
    }

    fn meta(&self, n: &Node) -> Meta {
        Meta {
            id: (self.ids && !self.ids_on_query)
                .then(|| super::FileId::new(1, n.ino + 1))
                .flatten(),
            kind: n.kind,
            size: if n.kind == Kind::File {
                n.data.len() as u64
            } else {
                0
            },
            mtime: n.mtime,
            props: n.props,
            offline: n.offline,
        }
    }

    fn not_found(op: &'static str, path: &str) -> FsError {
        FsError::synthetic(
            op,
            path,
            super::ErrorClass::NotFound,
            "no such file or folder",
        )
    }
}

struct MemWriter {
    fs: MemFs,
    key: String,
    path: String,
    buf: Vec<u8>,
}

impl Write for MemWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl MemWriter {
    /// Stores the written bytes; with `times`, also that mtime and those
    /// properties. Returns the file's metadata.
    fn store(self, times: Option<(i64, u32)>) -> Result<Meta, FsError> {
        let fs = self.fs.clone();
        let mut t = fs.lock();
        fs.check_root(&t, "write", &self.path)?;
        let mtime = fs.round(times.map_or(t.clock, |(m, _)| m));
        match t.nodes.get_mut(&self.key) {
            Some(n) if n.kind == Kind::File => {
                n.data = Arc::new(self.buf);
                n.mtime = mtime;
                if let Some((_, props)) = times {
                    n.props = props;
                }
                Ok(fs.meta(n))
            }
            _ => Err(MemFs::not_found("write", &self.path)),
        }
    }
}

impl FileWriter for MemWriter {
    fn finish(self: Box<Self>) -> Result<(), FsError> {
        self.store(None).map(|_| ())
    }

    fn finish_with(self: Box<Self>, mtime: i64, props: u32) -> Result<super::Written, FsError> {
        let meta = self.store(Some((mtime, props)))?;
        Ok(super::Written {
            times: Some(Ok(())),
            meta: Some(meta),
        })
    }

    /// What was written so far lands in the tree (a power cut, which is
    /// a writer dropped unfinished, keeps it).
    fn sync(&mut self) -> Result<(), FsError> {
        let mut t = self.fs.lock();
        self.fs.check_root(&t, "flush", &self.path)?;
        let mtime = self.fs.round(t.clock);
        match t.nodes.get_mut(&self.key) {
            Some(n) if n.kind == Kind::File => {
                n.data = Arc::new(self.buf.clone());
                n.mtime = mtime;
                Ok(())
            }
            _ => Err(MemFs::not_found("flush", &self.path)),
        }
    }
}

impl MemFs {
    /// [`Fs::rename`] on the locked tree.
    fn rename_in(&self, t: &mut Tree, from: &str, to: &str) -> Result<(), FsError> {
        let what = format!("{from} → {to}");
        self.check_root(t, "rename", &what)?;
        let (kf, kt) = (self.key(from), self.key(to));
        let Some(src) = t.nodes.get(&kf).cloned() else {
            return Err(Self::not_found("rename", &what));
        };
        if !self.parent_is_dir(t, to) {
            return Err(Self::not_found("rename", &what));
        }
        if kf != kt {
            match t.nodes.get(&kt) {
                Some(d) if d.kind == Kind::Dir => {
                    return Err(FsError::synthetic(
                        "rename",
                        &what,
                        super::ErrorClass::Other,
                        "target is a folder",
                    ));
                }
                _ => {}
            }
        }
        // Move the node and, for a folder, everything below it.
        let moved: Vec<String> = t
            .nodes
            .keys()
            .filter(|k| paths::is_within(k, &kf))
            .cloned()
            .collect();
        let mut re = Vec::with_capacity(moved.len());
        for k in moved {
            if let Some(mut n) = t.nodes.remove(&k) {
                n.path = format!("{to}{}", &n.path[from.len().min(n.path.len())..]);
                re.push((format!("{kt}{}", &k[kf.len()..]), n));
            }
        }
        let _ = src;
        for (k, n) in re {
            t.nodes.insert(k, n);
        }
        Ok(())
    }
}

impl Fs for MemFs {
    fn root_display(&self) -> String {
        format!("mem:{}", self.label)
    }

    fn file_id(&self, path: &str) -> Option<super::FileId> {
        let t = self.lock();
        let n = t.nodes.get(&self.key(path))?;
        self.ids.then(|| super::FileId::new(1, n.ino + 1)).flatten()
    }

    fn stat(&self, path: &str) -> Result<Option<Meta>, FsError> {
        let t = self.lock();
        if path.is_empty() {
            return Ok(t.root_present.then_some(Meta {
                kind: Kind::Dir,
                size: 0,
                mtime: 0,
                props: 0o755,
                offline: false,
                id: None,
            }));
        }
        self.check_root(&t, "stat", path)?;
        Ok(t.nodes.get(&self.key(path)).map(|n| self.meta(n)))
    }

    fn walk(
        &self,
        exclude: ExcludeFn<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<WalkResult, FsError> {
        let t = self.lock();
        self.check_root(&t, "list", "")?;
        let mut out = WalkResult::default();
        let mut pruned: HashSet<String> = HashSet::new();
        for (key, n) in &t.nodes {
            let mut anc = paths::parent(key);
            let mut skip = false;
            while !anc.is_empty() {
                if pruned.contains(anc) {
                    skip = true;
                    break;
                }
                anc = paths::parent(anc);
            }
            if skip {
                continue;
            }
            if exclude(&n.path, n.kind == Kind::Dir) {
                if n.kind == Kind::Dir {
                    pruned.insert(key.clone());
                }
                continue;
            }
            out.push(&n.path, self.meta(n));
        }
        progress(out.entries.len() as u64);
        Ok(out)
    }

    fn list_dir(&self, path: &str) -> Result<super::Listing, FsError> {
        let t = self.lock();
        self.check_root(&t, "list", path)?;
        let k = self.key(path);
        if !path.is_empty() && !t.nodes.get(&k).is_some_and(|n| n.kind == Kind::Dir) {
            return Err(Self::not_found("list", path));
        }
        Ok(super::Listing {
            entries: t
                .nodes
                .iter()
                .filter(|(key, _)| paths::parent(key) == k && key.as_str() != k)
                .map(|(_, n)| (paths::file_name(&n.path).to_owned(), self.meta(n)))
                .collect(),
            ..super::Listing::default()
        })
    }

    fn open_read(&self, path: &str) -> Result<Box<dyn Read + Send>, FsError> {
        let t = self.lock();
        self.check_root(&t, "open", path)?;
        match t.nodes.get(&self.key(path)) {
            Some(n) if n.kind == Kind::File => {
                Ok(Box::new(std::io::Cursor::new(n.data.as_ref().clone())))
            }
            _ => Err(Self::not_found("open", path)),
        }
    }

    fn create(&self, path: &str) -> Result<Box<dyn FileWriter>, FsError> {
        let mut t = self.lock();
        self.check_root(&t, "create", path)?;
        if !self.parent_is_dir(&t, path) {
            return Err(Self::not_found("create", path));
        }
        let key = self.key(path);
        let mtime = self.round(t.clock);
        match t.nodes.get_mut(&key) {
            Some(n) if n.kind == Kind::Dir => {
                return Err(FsError::synthetic(
                    "create",
                    path,
                    super::ErrorClass::Other,
                    "is a folder",
                ));
            }
            Some(n) => {
                n.data = Arc::new(Vec::new());
                n.mtime = mtime;
            }
            None => {
                let ino = t.ino();
                t.nodes.insert(
                    key.clone(),
                    Node {
                        path: path.to_owned(),
                        kind: Kind::File,
                        data: Arc::new(Vec::new()),
                        mtime,
                        props: 0o644,
                        ino,
                        offline: false,
                    },
                );
            }
        }
        Ok(Box::new(MemWriter {
            fs: self.clone(),
            key,
            path: path.to_owned(),
            buf: Vec::new(),
        }))
    }

    fn set_meta(&self, path: &str, mtime: i64, props: u32) -> Result<(), FsError> {
        let mut t = self.lock();
        self.check_root(&t, "set properties", path)?;
        let rounded = self.round(mtime);
        let n = t
            .nodes
            .get_mut(&self.key(path))
            .ok_or_else(|| Self::not_found("set properties", path))?;
        if n.kind == Kind::File {
            n.mtime = rounded;
        }
        n.props = props;
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), FsError> {
        let mut t = self.lock();
        self.rename_in(&mut t, from, to)
    }

    /// Batches are as good as files one by one here (nothing is lost
    /// unsynced in memory): the batch path is exercised by every test.
    fn syncs_in_batches(&self) -> bool {
        true
    }

    fn sync_written(&self, files: &[(&str, Option<super::FileId>)]) -> Result<(), FsError> {
        let t = self.lock();
        for &(path, _) in files {
            self.check_root(&t, "flush", path)?;
        }
        Ok(())
    }

    /// Atomic: the look and the rename under one lock.
    fn rename_new(&self, from: &str, to: &str) -> Result<bool, FsError> {
        let mut t = self.lock();
        self.check_root(&t, "rename", &format!("{from} → {to}"))?;
        if t.nodes.contains_key(&self.key(to)) {
            return Ok(false);
        }
        self.rename_in(&mut t, from, to).map(|()| true)
    }

    fn remove_file(&self, path: &str) -> Result<(), FsError> {
        let mut t = self.lock();
        self.check_root(&t, "delete", path)?;
        let k = self.key(path);
        match t.nodes.get(&k) {
            Some(n) if n.kind == Kind::File => {
                t.nodes.remove(&k);
                Ok(())
            }
            _ => Err(Self::not_found("delete", path)),
        }
    }

    fn create_dir_all(&self, path: &str) -> Result<(), FsError> {
        let mut t = self.lock();
        self.check_root(&t, "create folder", path)?;
        // A file in the way is an error, as on disk.
        let mut p = path;
        while !p.is_empty() {
            if t.nodes
                .get(&self.key(p))
                .is_some_and(|n| n.kind == Kind::File)
            {
                return Err(FsError::synthetic(
                    "create folder",
                    path,
                    super::ErrorClass::Other,
                    "a file is in the way",
                ));
            }
            p = paths::parent(p);
        }
        let now = self.round(t.clock);
        self.mkdirs_locked(&mut t, path, now);
        Ok(())
    }

    fn remove_dir(&self, path: &str) -> Result<(), FsError> {
        let mut t = self.lock();
        self.check_root(&t, "remove folder", path)?;
        let k = self.key(path);
        if !t.nodes.get(&k).is_some_and(|n| n.kind == Kind::Dir) {
            return Err(Self::not_found("remove folder", path));
        }
        if t.nodes.keys().any(|c| c != &k && paths::is_within(c, &k)) {
            return Err(FsError::synthetic(
                "remove folder",
                path,
                super::ErrorClass::Other,
                "folder is not empty",
            ));
        }
        t.nodes.remove(&k);
        Ok(())
    }

    fn free_space(&self) -> Option<u64> {
        self.lock().free_space
    }

    fn open_read_at(&self, path: &str, offset: u64) -> Result<Box<dyn Read + Send>, FsError> {
        let t = self.lock();
        self.check_root(&t, "open", path)?;
        match t.nodes.get(&self.key(path)) {
            Some(n) if n.kind == Kind::File => {
                let at = usize::try_from(offset).unwrap_or(usize::MAX);
                let Some(rest) = n.data.get(at..) else {
                    return Err(super::shorter_than(path, offset));
                };
                Ok(Box::new(std::io::Cursor::new(rest.to_vec())))
            }
            _ => Err(Self::not_found("open", path)),
        }
    }

    fn open_write_at(&self, path: &str, offset: u64) -> Result<Box<dyn FileWriter>, FsError> {
        let mut t = self.lock();
        self.check_root(&t, "reopen", path)?;
        let key = self.key(path);
        let mtime = self.round(t.clock);
        let Some(n) = t.nodes.get_mut(&key).filter(|n| n.kind == Kind::File) else {
            return Err(Self::not_found("reopen", path));
        };
        let at = usize::try_from(offset).unwrap_or(usize::MAX);
        let Some(kept) = n.data.get(..at).map(<[u8]>::to_vec) else {
            return Err(super::shorter_than(path, offset));
        };
        n.data = Arc::new(kept.clone());
        n.mtime = mtime;
        Ok(Box::new(MemWriter {
            fs: self.clone(),
            key,
            path: path.to_owned(),
            buf: kept,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_and_preserving() {
        let m = MemFs::new("t", true, 1);
        m.put("Dir/A.txt", b"1");
        assert_eq!(m.get("dir/a.TXT").unwrap(), b"1");
        m.put("dir/a.TXT", b"2");
        assert!(m.dump().contains_key("Dir/A.txt"));
        m.rename("Dir/A.txt", "Dir/a.txt").unwrap();
        assert!(m.dump().contains_key("Dir/a.txt"));
        m.rename("Dir", "DIR").unwrap();
        assert_eq!(m.get("DIR/a.txt").unwrap(), b"2");
        assert!(m.dump().contains_key("DIR/a.txt"));
    }

    #[test]
    fn rename_new_never_replaces_whatever_the_case() {
        let m = MemFs::new("t", true, 1);
        m.put("a.tmp", b"new");
        m.put("Taken.txt", b"user's");
        assert!(!m.rename_new("a.tmp", "taken.TXT").unwrap());
        assert_eq!(m.get("Taken.txt").unwrap(), b"user's");
        assert!(m.rename_new("a.tmp", "free.txt").unwrap());
        assert_eq!(m.get("free.txt").unwrap(), b"new");
        assert!(m.get("a.tmp").is_none());
    }

    #[test]
    fn timestamps_are_rounded() {
        let m = MemFs::new("t", false, 2_000_000_000);
        m.put("f", b"x");
        m.set_meta("f", 3_999_999_999, 0).unwrap();
        assert_eq!(m.stat("f").unwrap().unwrap().mtime, 2_000_000_000);
    }

    #[test]
    fn missing_parent_and_nonempty_dir_fail() {
        let m = MemFs::new("t", false, 1);
        assert!(m.create("no/such/file").is_err());
        m.put("d/f", b"");
        assert!(m.remove_dir("d").is_err());
        m.set_root_present(false);
        assert!(!m.root_exists());
        assert!(m.stat("d").is_err());
    }
}
