//! What a path is on one side: its [`Kind`], its volume [`FileId`], the
//! file system's [`Meta`] for it, and the [`Entry`] that scans, plans, the
//! journal and the state DB carry.
//!
//! Invariants: an [`Entry`] is made from a [`Meta`] only by
//! [`Entry::from_meta`] (scan, apply and the state agree on every field);
//! times are nanoseconds since the Unix epoch (see [`super::time`]); a
//! [`FileId`] is never inode 0.

/// What a directory entry is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    File,
    Dir,
}

/// A file's identity on its volume, stable across renames: device and
/// inode on Unix, volume serial and file id on NTFS. Used to recognise a
/// file moved or renamed since the last sync (SPEC §6 "Moves and renames").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub dev: u64,
    /// Never 0 (no file system gives a file inode or file id 0), which
    /// lets `Option<FileId>` take no more room than a `FileId`.
    pub ino: std::num::NonZeroU64,
}

impl FileId {
    /// The id of inode (or NTFS file id) `ino` on device (volume) `dev`;
    /// `None` for inode 0, which names no file.
    #[must_use]
    pub fn new(dev: u64, ino: u64) -> Option<Self> {
        Some(Self {
            dev,
            ino: std::num::NonZeroU64::new(ino)?,
        })
    }

    /// `dev:ino`, as stored in the state DB and plan files.
    #[must_use]
    pub fn to_text(self) -> String {
        format!("{}:{}", self.dev, self.ino)
    }

    /// Reads [`Self::to_text`] back.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let (d, i) = s.split_once(':')?;
        Some(Self {
            dev: d.parse().ok()?,
            ino: i.parse().ok()?,
        })
    }
}

impl serde::Serialize for FileId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_text())
    }
}

impl<'de> serde::Deserialize<'de> for FileId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("bad file id `{s}`")))
    }
}

/// Metadata of one entry as the file system reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime: i64,
    /// Synced properties: Windows attributes (`crate::fs::attr::SYNCED`) or Unix permission bits.
    pub props: u32,
    /// A cloud placeholder whose content is not local: never read to hash.
    pub offline: bool,
    /// The file's id where the file system reports one cheaply (`None`:
    /// some cloud drives, and Windows listings today).
    pub id: Option<FileId>,
}

/// The metadata of one path on one side, as scanned or as last synced
/// (the default: an empty file at an empty path, a blank to fill in).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// The relative path as this side spells it (its own case and Unicode
    /// form; maps of entries are keyed by the identity key, see
    /// [`crate::paths::key_of`]). In a fresh scan an empty path means "the same as
    /// the key" until [`crate::scan::SideScan::restore_paths`].
    pub path: String,
    pub kind: Kind,
    pub size: u64,
    /// Nanoseconds since the Unix epoch.
    pub mtime: i64,
    /// Windows attributes (read-only/hidden/system) or Unix permission bits.
    pub props: u32,
    /// Cloud placeholder (content not local): never read just to hash.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offline: bool,
    /// BLAKE3 of the content, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// The file's id on its volume, where the side reports one (moves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<FileId>,
    /// Scan only: this path is unchanged on both sides since the last sync
    /// (its snapshot was not even loaded); the planner skips it.
    #[serde(skip)]
    pub unchanged: bool,
}

impl Entry {
    /// The entry for `path` as the file system reported it in `m`, with
    /// the content hash where it is known (a scan knows none yet; apply
    /// knows the hash of what it just copied).
    #[must_use]
    pub fn from_meta(path: impl Into<String>, m: &Meta, hash: Option<String>) -> Self {
        Self {
            path: path.into(),
            kind: m.kind,
            size: m.size,
            mtime: m.mtime,
            props: m.props,
            offline: m.offline,
            hash,
            id: m.id,
            unchanged: false,
        }
    }
}
