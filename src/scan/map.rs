//! [`ScanMap`]: one side's entries, keyed by identity key, as one sorted
//! vector (not a tree).
//!
//! Why a vector: a scan of 1,000,000 paths is built once from a list,
//! sorted in place and then only read and walked in key order; an ordered
//! tree would add node overhead and, while it is built from the list, hold
//! every entry twice. Lookups are binary searches. Single inserts and
//! removals shift the tail, so the watch's incremental rescans use the
//! batch forms ([`ScanMap::insert_many`], [`ScanMap::remove_all`]): one
//! pass per re-listed folder, not one per path.
//!
//! Invariant: keys are strictly increasing (byte order of the identity
//! key, the order of the state DB's rows), so the keys at or below a
//! folder `a` are exactly those from `a` up to `a0` (`0` follows `/`).

use crate::Entry;
use crate::paths;
use std::collections::HashSet;

/// One side's entries in key order. See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanMap {
    items: Vec<(String, Entry)>,
}

impl ScanMap {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes `items` as they are, sorting them by key when they are not
    /// sorted yet (in place: no second copy). Of entries with one key, the
    /// last one stays (as when inserting them in turn).
    #[must_use]
    pub fn from_vec(mut items: Vec<(String, Entry)>) -> Self {
        if !items.is_sorted_by(|a, b| a.0 < b.0) {
            // Stable, so that equal keys keep their order for the dedup.
            items.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out: Vec<(String, Entry)> = Vec::with_capacity(items.len());
            for it in items {
                match out.last_mut() {
                    Some(last) if last.0 == it.0 => *last = it,
                    _ => out.push(it),
                }
            }
            items = out;
        }
        Self { items }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.items.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The first index whose key is not below `key`.
    fn lower_bound(&self, key: &str) -> usize {
        self.items.partition_point(|(k, _)| k.as_str() < key)
    }

    /// The index range of the keys at or below folder `key` (the empty key
    /// is the root: everything).
    fn subtree(&self, key: &str) -> std::ops::Range<usize> {
        if key.is_empty() {
            return 0..self.items.len();
        }
        let lo = self.lower_bound(key);
        let end = format!("{key}0");
        let hi = lo + self.items[lo..].partition_point(|(k, _)| k.as_str() < end.as_str());
        lo..hi
    }

    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.find(key).ok().map(|i| &self.items[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.find(key).ok().map(|i| &mut self.items[i].1)
    }

    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Inserts or replaces; returns the entry replaced. A new key shifts
    /// the entries after it: for many, use [`Self::insert_many`].
    pub fn insert(&mut self, key: String, e: Entry) -> Option<Entry> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.items[i].1, e)),
            Err(i) => {
                self.items.insert(i, (key, e));
                None
            }
        }
    }

    /// Inserts or replaces every pair (of one key, the last wins) in one
    /// pass over the map, however many there are.
    pub fn insert_many(&mut self, mut new: Vec<(String, Entry)>) {
        new.retain_mut(|(k, e)| match self.find(k) {
            Ok(i) => {
                std::mem::swap(&mut self.items[i].1, e);
                false
            }
            Err(_) => true,
        });
        if new.is_empty() {
            return;
        }
        // Two sorted runs: a stable sort merges them in one linear pass.
        self.items.append(&mut Self::from_vec(new).items);
        self.items.sort_by(|a, b| a.0.cmp(&b.0));
    }

    pub fn remove(&mut self, key: &str) -> Option<Entry> {
        self.find(key).ok().map(|i| self.items.remove(i).1)
    }

    /// Removes every entry strictly below folder `key` (the keys from
    /// `key/` up to `key0`: one run).
    pub fn remove_below(&mut self, key: &str) {
        let lo = self.lower_bound(&format!("{key}/"));
        let hi = self.lower_bound(&format!("{key}0")).max(lo);
        self.items.drain(lo..hi);
    }

    /// Removes the entries of `keys` and everything below them, in one pass.
    #[allow(clippy::implicit_hasher)]
    pub fn remove_all(&mut self, keys: &HashSet<String>) {
        // Each key is at most two runs of indices: itself, and `key/` up to
        // `key0` (between them lie names like `key b`, which stay).
        let mut runs: Vec<std::ops::Range<usize>> = Vec::with_capacity(keys.len() * 2);
        for k in keys {
            if let Ok(i) = self.find(k) {
                runs.push(i..i + 1);
            }
            let lo = self.lower_bound(&format!("{k}/"));
            let hi = self.lower_bound(&format!("{k}0")).max(lo);
            if lo < hi {
                runs.push(lo..hi);
            }
        }
        if runs.is_empty() {
            return;
        }
        runs.sort_unstable_by_key(|r| r.start);
        let mut i = 0;
        let mut next = runs.iter().peekable();
        self.items.retain(|_| {
            let at = i;
            i += 1;
            while next.peek().is_some_and(|r| r.end <= at) {
                next.next();
            }
            !next.peek().is_some_and(|r| r.contains(&at))
        });
    }

    /// Entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.items.iter())
    }

    /// Entries in key order, the entries mutable.
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut(self.items.iter_mut())
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.items.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Entry> + ExactSizeIterator {
        self.items.iter().map(|(_, e)| e)
    }

    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Entry> + ExactSizeIterator {
        self.items.iter_mut().map(|(_, e)| e)
    }

    /// The entries at or below `key` (see [`paths::is_within`]).
    pub fn within<'a>(&'a self, key: &'a str) -> impl Iterator<Item = (&'a String, &'a Entry)> {
        let r = self.subtree(key);
        Iter(self.items[r].iter()).filter(move |(k, _)| paths::is_within(k, key))
    }

    /// The entries at or below `key`, mutable.
    pub fn within_mut<'a>(
        &'a mut self,
        key: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a mut Entry)> {
        let r = self.subtree(key);
        IterMut(self.items[r].iter_mut()).filter(move |(k, _)| paths::is_within(k, key))
    }

    /// The direct children of folder `key` (the empty key: the root's).
    pub fn children<'a>(&'a self, key: &'a str) -> impl Iterator<Item = (&'a String, &'a Entry)> {
        self.within(key)
            .filter(move |(k, _)| k.len() > key.len() && paths::parent(k) == key)
    }
}

/// Iterator over a [`ScanMap`] in key order.
pub struct Iter<'a>(std::slice::Iter<'a, (String, Entry)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a String, &'a Entry);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, e)| (k, e))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, e)| (k, e))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Mutable iterator over a [`ScanMap`] in key order.
pub struct IterMut<'a>(std::slice::IterMut<'a, (String, Entry)>);

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a String, &'a mut Entry);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, e)| (&*k, e))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for IterMut<'_> {}

impl<'a> IntoIterator for &'a ScanMap {
    type Item = (&'a String, &'a Entry);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut ScanMap {
    type Item = (&'a String, &'a mut Entry);
    type IntoIter = IterMut<'a>;
    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

impl IntoIterator for ScanMap {
    type Item = (String, Entry);
    type IntoIter = std::vec::IntoIter<(String, Entry)>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl FromIterator<(String, Entry)> for ScanMap {
    fn from_iter<I: IntoIterator<Item = (String, Entry)>>(iter: I) -> Self {
        Self::from_vec(iter.into_iter().collect())
    }
}

impl Extend<(String, Entry)> for ScanMap {
    fn extend<I: IntoIterator<Item = (String, Entry)>>(&mut self, iter: I) {
        self.insert_many(iter.into_iter().collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;

    fn e(size: u64) -> Entry {
        Entry {
            path: String::new(),
            kind: Kind::File,
            size,
            mtime: 0,
            props: 0,
            offline: false,
            hash: None,
            id: None,
            unchanged: false,
        }
    }

    fn keys(m: &ScanMap) -> Vec<&str> {
        m.keys().map(String::as_str).collect()
    }

    #[test]
    fn built_unsorted_it_is_sorted_and_the_last_of_a_key_wins() {
        let m: ScanMap = [("b", 1), ("a b", 2), ("a/x", 3), ("a", 4), ("b", 5)]
            .into_iter()
            .map(|(k, s)| (k.to_owned(), e(s)))
            .collect();
        assert_eq!(keys(&m), ["a", "a b", "a/x", "b"]);
        assert_eq!(m.get("b").map(|x| x.size), Some(5));
        assert!(m.get("c").is_none() && !m.contains_key("a/"));
    }

    #[test]
    fn subtree_reads_and_removals_keep_to_the_folder() {
        let mut m: ScanMap = ["a", "a b", "a!", "a/x", "a/y/z", "a0", "ab", "b"]
            .into_iter()
            .map(|k| (k.to_owned(), e(0)))
            .collect();
        let within: Vec<&str> = m.within("a").map(|(k, _)| k.as_str()).collect();
        assert_eq!(within, ["a", "a/x", "a/y/z"]);
        let kids: Vec<&str> = m.children("a").map(|(k, _)| k.as_str()).collect();
        assert_eq!(kids, ["a/x"]);
        let top: Vec<&str> = m.children("").map(|(k, _)| k.as_str()).collect();
        assert_eq!(top, ["a", "a b", "a!", "a0", "ab", "b"]);
        for (_, x) in m.within_mut("a/y") {
            x.size = 9;
        }
        assert_eq!(m.get("a/y/z").map(|x| x.size), Some(9));
        m.remove_below("a");
        assert_eq!(keys(&m), ["a", "a b", "a!", "a0", "ab", "b"]);
        let gone: HashSet<String> = ["a".to_owned(), "ab".to_owned()].into();
        m.remove_all(&gone);
        assert_eq!(keys(&m), ["a b", "a!", "a0", "b"]);
    }

    #[test]
    fn remove_all_takes_what_lies_below_too() {
        let mut m: ScanMap = ["d", "d/a", "d/s", "d/s/b", "d2", "e"]
            .into_iter()
            .map(|k| (k.to_owned(), e(0)))
            .collect();
        m.remove_all(&["d/s".to_owned(), "e".to_owned()].into());
        assert_eq!(keys(&m), ["d", "d/a", "d2"]);
    }

    #[test]
    fn insert_many_merges_replaces_and_keeps_order() {
        let mut m: ScanMap = ["b", "d", "f"]
            .into_iter()
            .map(|k| (k.to_owned(), e(0)))
            .collect();
        m.insert_many(vec![
            ("e".into(), e(1)),
            ("a".into(), e(1)),
            ("d".into(), e(7)),
            ("g".into(), e(1)),
            ("a".into(), e(2)),
        ]);
        assert_eq!(keys(&m), ["a", "b", "d", "e", "f", "g"]);
        assert_eq!(m.get("a").map(|x| x.size), Some(2));
        assert_eq!(m.get("d").map(|x| x.size), Some(7));
        assert_eq!(m.insert("c".into(), e(3)), None);
        assert_eq!(m.insert("c".into(), e(4)).map(|x| x.size), Some(3));
        assert_eq!(m.remove("b").map(|x| x.size), Some(0));
        assert_eq!(keys(&m), ["a", "c", "d", "e", "f", "g"]);
    }
}
