//! [`ScanMap`]: one side's entries, keyed by identity key, as one sorted
//! vector (not a tree), the keys' text kept back to back in one string.
//!
//! Why: a scan of 1,000,000 paths is built once from a list, sorted in
//! place and then only read and walked in key order. An ordered tree of
//! `String`s would add node overhead, a 24-byte header and a heap block per
//! key, and, while built from the list, hold every entry twice. Here an
//! entry costs its [`Entry`], 8 bytes of span and its key's bytes.
//! Lookups are binary searches. Single inserts and removals shift the tail,
//! so the watch's incremental rescans use the batch forms
//! ([`ScanMap::insert_many`], [`ScanMap::remove_all`]): one pass per
//! re-listed folder, not one per path. The text of removed keys is
//! reclaimed once it is most of the string.
//!
//! Invariant: keys are strictly increasing (byte order of the identity
//! key, the order of the state DB's rows), so the keys at or below a
//! folder `a` are exactly `a` and those from `a/` up to `a0` (`0` follows
//! `/`); names like `a b` sort in between and are not below `a`.

use crate::Entry;
use crate::paths::{self, Span};
use std::collections::HashSet;

#[derive(Debug, Clone)]
struct Item {
    key: Span,
    e: Entry,
}

/// One side's entries in key order. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct ScanMap {
    /// Every key's text, back to back (in no particular order).
    names: String,
    /// Sorted by key.
    items: Vec<Item>,
    /// Bytes of `names` no item points to any more.
    dead: usize,
}

/// Builds a [`ScanMap`] from entries in any order (a walk's list). It
/// takes over the walk's string of paths: an entry whose key is its path
/// keeps pointing at that text ([`Builder::push_span`]), so the keys cost
/// no copy.
#[derive(Debug, Default)]
pub struct Builder {
    names: String,
    items: Vec<Item>,
    dead: usize,
}

impl Builder {
    /// A builder over `names` (a walk's string of paths) for about
    /// `entries` entries.
    #[must_use]
    pub fn adopt(names: String, entries: usize) -> Self {
        Self {
            names,
            items: Vec::with_capacity(entries),
            dead: 0,
        }
    }

    /// The text of `span` in the adopted string.
    #[must_use]
    pub fn text(&self, span: Span) -> &str {
        span.text(&self.names)
    }

    /// Adds an entry whose key is the text at `span` of the string.
    pub fn push_span(&mut self, key: Span, e: Entry) {
        self.items.push(Item { key, e });
    }

    /// Adds an entry whose key is not in the string yet.
    pub fn push(&mut self, key: &str, e: Entry) {
        let key = Span::push(&mut self.names, key);
        self.items.push(Item { key, e });
    }

    /// Notes that the text at `span` is not a key (reclaimed at the end
    /// when it is most of the string).
    pub fn unused(&mut self, span: Span) {
        self.dead += span.range().len();
    }

    /// Sorts (in place). Keys pushed more than once are names one identity
    /// key cannot tell apart: `clash` hears of each such pair, and every
    /// entry at or below such a key is dropped; the keys are returned.
    pub fn finish(self, mut clash: impl FnMut(&str, &Entry, &Entry)) -> (ScanMap, Vec<String>) {
        let Self {
            names,
            mut items,
            mut dead,
        } = self;
        items.sort_unstable_by(|a, b| a.key.text(&names).cmp(b.key.text(&names)));
        let mut collided: Vec<String> = Vec::new();
        for pair in items.windows(2) {
            let k = pair[0].key.text(&names);
            if k == pair[1].key.text(&names) {
                clash(k, &pair[0].e, &pair[1].e);
                if collided.last().map(String::as_str) != Some(k) {
                    collided.push(k.to_owned());
                }
            }
        }
        if !collided.is_empty() {
            let set: HashSet<&str> = collided.iter().map(String::as_str).collect();
            items.retain(|it| {
                let k = it.key.text(&names);
                let keep = !paths::ancestors_or_self(k).any(|a| set.contains(a));
                if !keep {
                    dead += k.len();
                }
                keep
            });
        }
        let mut map = ScanMap { names, items, dead };
        map.reclaim();
        (map, collided)
    }
}

impl ScanMap {
    /// From pairs in any order; of pairs with one key, the last one stays
    /// (as when inserting them in turn).
    #[must_use]
    pub fn from_vec(mut pairs: Vec<(String, Entry)>) -> Self {
        if !pairs.is_sorted_by(|a, b| a.0 < b.0) {
            // Stable, so that equal keys keep their order for the dedup.
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let mut m = Self {
            names: String::with_capacity(pairs.iter().map(|(k, _)| k.len()).sum()),
            items: Vec::with_capacity(pairs.len()),
            dead: 0,
        };
        for (k, e) in pairs {
            if m.items
                .last()
                .is_some_and(|last| last.key.text(&m.names) == k)
            {
                if let Some(last) = m.items.last_mut() {
                    last.e = e;
                }
            } else {
                let key = Span::push(&mut m.names, &k);
                m.items.push(Item { key, e });
            }
        }
        m
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
        self.items
            .binary_search_by(|it| it.key.text(&self.names).cmp(key))
    }

    /// The first index whose key is not below `key`.
    fn lower_bound(&self, key: &str) -> usize {
        self.items
            .partition_point(|it| it.key.text(&self.names) < key)
    }

    /// The index range of the keys from `key` up to `key0`: those at or
    /// below folder `key` and names like `key b` (the empty key: all).
    fn subtree(&self, key: &str) -> std::ops::Range<usize> {
        if key.is_empty() {
            return 0..self.items.len();
        }
        let lo = self.lower_bound(key);
        lo..self.lower_bound(&format!("{key}0")).max(lo)
    }

    /// The index run of the keys strictly below folder `key`.
    fn below(&self, key: &str) -> std::ops::Range<usize> {
        let lo = self.lower_bound(&format!("{key}/"));
        lo..self.lower_bound(&format!("{key}0")).max(lo)
    }

    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.find(key).ok().map(|i| &self.items[i].e)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.find(key).ok().map(|i| &mut self.items[i].e)
    }

    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Inserts or replaces; returns the entry replaced. A new key shifts
    /// the entries after it: for many, use [`Self::insert_many`].
    pub fn insert(&mut self, key: &str, e: Entry) -> Option<Entry> {
        match self.find(key) {
            Ok(i) => Some(std::mem::replace(&mut self.items[i].e, e)),
            Err(i) => {
                let key = Span::push(&mut self.names, key);
                self.items.insert(i, Item { key, e });
                None
            }
        }
    }

    /// Inserts or replaces every pair (of one key, the last wins) in one
    /// pass over the map, however many there are.
    pub fn insert_many(&mut self, mut new: Vec<(String, Entry)>) {
        new.retain_mut(|(k, e)| match self.find(k) {
            Ok(i) => {
                std::mem::swap(&mut self.items[i].e, e);
                false
            }
            Err(_) => true,
        });
        if new.is_empty() {
            return;
        }
        let new = Self::from_vec(new);
        let base = self.names.len();
        self.names.push_str(&new.names);
        self.items.extend(new.items.into_iter().map(|mut it| {
            it.key = it.key.shifted(base);
            it
        }));
        // Two sorted runs: a stable sort merges them in one linear pass.
        let names = &self.names;
        self.items
            .sort_by(|a, b| a.key.text(names).cmp(b.key.text(names)));
    }

    /// Removes every entry strictly below folder `key`.
    pub fn remove_below(&mut self, key: &str) {
        let r = self.below(key);
        self.dead += self.items[r.clone()]
            .iter()
            .map(|it| it.key.range().len())
            .sum::<usize>();
        self.items.drain(r);
        self.reclaim();
    }

    /// Removes the entries of `keys` and everything below them, in one pass.
    #[allow(clippy::implicit_hasher)]
    pub fn remove_all(&mut self, keys: &HashSet<String>) {
        // Each key is at most two runs of indices: itself, and what lies
        // below it (between them sort names like `key b`, which stay).
        let mut runs: Vec<std::ops::Range<usize>> = Vec::with_capacity(keys.len() * 2);
        for k in keys {
            if let Ok(i) = self.find(k) {
                runs.push(i..i + 1);
            }
            let r = self.below(k);
            if !r.is_empty() {
                runs.push(r);
            }
        }
        if runs.is_empty() {
            return;
        }
        runs.sort_unstable_by_key(|r| r.start);
        let mut i = 0;
        let mut next = runs.iter().peekable();
        let mut dead = 0;
        self.items.retain(|it| {
            let at = i;
            i += 1;
            while next.peek().is_some_and(|r| r.end <= at) {
                next.next();
            }
            let drop = next.peek().is_some_and(|r| r.contains(&at));
            if drop {
                dead += it.key.range().len();
            }
            !drop
        });
        self.dead += dead;
        self.reclaim();
    }

    /// Rewrites the string without the text of removed keys once that is
    /// more than half of it.
    fn reclaim(&mut self) {
        if self.dead <= self.names.len() / 2 {
            return;
        }
        let mut names = String::with_capacity(self.names.len() - self.dead);
        for it in &mut self.items {
            it.key = Span::push(&mut names, it.key.text(&self.names));
        }
        self.names = names;
        self.dead = 0;
    }

    /// Entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            names: &self.names,
            items: self.items.iter(),
        }
    }

    /// Entries in key order, the entries mutable.
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut {
            names: &self.names,
            items: self.items.iter_mut(),
        }
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Entry> + ExactSizeIterator {
        self.items.iter().map(|it| &it.e)
    }

    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Entry> + ExactSizeIterator {
        self.items.iter_mut().map(|it| &mut it.e)
    }

    /// The entries at or below `key` (see [`paths::is_within`]).
    pub fn within<'a>(&'a self, key: &'a str) -> impl Iterator<Item = (&'a str, &'a Entry)> {
        let r = self.subtree(key);
        Iter {
            names: &self.names,
            items: self.items[r].iter(),
        }
        .filter(move |(k, _)| paths::is_within(k, key))
    }

    /// The entries at or below `key`, mutable.
    pub fn within_mut<'a>(
        &'a mut self,
        key: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a mut Entry)> {
        let r = self.subtree(key);
        IterMut {
            names: &self.names,
            items: self.items[r].iter_mut(),
        }
        .filter(move |(k, _)| paths::is_within(k, key))
    }

    /// The direct children of folder `key` (the empty key: the root's).
    pub fn children<'a>(&'a self, key: &'a str) -> impl Iterator<Item = (&'a str, &'a Entry)> {
        self.within(key)
            .filter(move |(k, _)| k.len() > key.len() && paths::parent(k) == key)
    }

    /// The length of the keys' string (tests of its upkeep).
    #[cfg(test)]
    fn text_len(&self) -> usize {
        self.names.len()
    }
}

/// Iterator over a [`ScanMap`] in key order.
pub struct Iter<'a> {
    names: &'a str,
    items: std::slice::Iter<'a, Item>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a Entry);
    fn next(&mut self) -> Option<Self::Item> {
        let names = self.names;
        self.items.next().map(|it| (it.key.text(names), &it.e))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let names = self.names;
        self.items.next_back().map(|it| (it.key.text(names), &it.e))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Mutable iterator over a [`ScanMap`] in key order.
pub struct IterMut<'a> {
    names: &'a str,
    items: std::slice::IterMut<'a, Item>,
}

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a str, &'a mut Entry);
    fn next(&mut self) -> Option<Self::Item> {
        let names = self.names;
        self.items.next().map(|it| (it.key.text(names), &mut it.e))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl ExactSizeIterator for IterMut<'_> {}

impl<'a> IntoIterator for &'a ScanMap {
    type Item = (&'a str, &'a Entry);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut ScanMap {
    type Item = (&'a str, &'a mut Entry);
    type IntoIter = IterMut<'a>;
    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

impl FromIterator<(String, Entry)> for ScanMap {
    fn from_iter<I: IntoIterator<Item = (String, Entry)>>(iter: I) -> Self {
        Self::from_vec(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(size: u64) -> Entry {
        Entry {
            size,
            ..Entry::default()
        }
    }

    fn keys(m: &ScanMap) -> Vec<&str> {
        m.keys().collect()
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
        let within: Vec<&str> = m.within("a").map(|(k, _)| k).collect();
        assert_eq!(within, ["a", "a/x", "a/y/z"]);
        let kids: Vec<&str> = m.children("a").map(|(k, _)| k).collect();
        assert_eq!(kids, ["a/x"]);
        let top: Vec<&str> = m.children("").map(|(k, _)| k).collect();
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
        assert_eq!(m.insert("c", e(3)), None);
        assert_eq!(m.insert("c", e(4)).map(|x| x.size), Some(3));
        m.remove_all(&HashSet::from(["b".to_owned()]));
        assert_eq!(keys(&m), ["a", "c", "d", "e", "f", "g"]);
    }

    #[test]
    fn removed_keys_text_is_reclaimed_and_the_rest_reads_the_same() {
        let mut m: ScanMap = (0..100)
            .map(|i| (format!("d/f{i:03}"), e(i)))
            .chain([("d".to_owned(), e(1000))])
            .collect();
        let full = m.text_len();
        let gone: HashSet<String> = (0..70).map(|i| format!("d/f{i:03}")).collect();
        m.remove_all(&gone);
        assert!(m.text_len() < full / 2, "{} of {full}", m.text_len());
        assert_eq!(m.len(), 31);
        assert_eq!(m.get("d/f070").map(|x| x.size), Some(70));
        assert_eq!(m.keys().next(), Some("d"));
        assert_eq!(m.keys().last(), Some("d/f099"));
        m.insert_many(vec![("d/a".into(), e(5)), ("c".into(), e(6))]);
        assert_eq!(m.keys().take(3).collect::<Vec<_>>(), ["c", "d", "d/a"]);
        assert_eq!(m.get("d/a").map(|x| x.size), Some(5));
    }

    #[test]
    fn a_builder_sorts_and_drops_what_two_names_share_a_key_for() {
        let mut walk = String::new();
        let spans: Vec<Span> = ["x/b", "x", "x/a", "X/B"]
            .iter()
            .map(|k| Span::push(&mut walk, k))
            .collect();
        let mut b = Builder::adopt(walk, 6);
        for s in &spans[..3] {
            b.push_span(*s, e(0));
        }
        b.unused(spans[3]);
        for k in ["y", "x/b", "x/b/c"] {
            b.push(k, e(0));
        }
        let mut clashes = Vec::new();
        let (m, collided) = b.finish(|k, _, _| clashes.push(k.to_owned()));
        assert_eq!(clashes, ["x/b"]);
        assert_eq!(collided, ["x/b"]);
        assert_eq!(keys(&m), ["x", "x/a", "y"]);
    }

    /// The map against a `BTreeMap` model, over random runs of every
    /// operation, on keys chosen to sit around folder boundaries (`a`,
    /// `a b`, `a/x`, `a0`…).
    mod model {
        use super::*;
        use proptest::prelude::*;
        use std::collections::BTreeMap;

        const KEYS: [&str; 12] = [
            "a", "a b", "a!", "a/x", "a/x/y", "a/y", "a0", "ab", "b", "b/a", "b/a b", "c",
        ];

        #[derive(Debug, Clone)]
        enum Act {
            Insert(usize, u64),
            Many(Vec<(usize, u64)>),
            Below(usize),
            All(Vec<usize>),
        }

        fn act() -> impl Strategy<Value = Act> {
            let k = 0..KEYS.len();
            prop_oneof![
                (k.clone(), any::<u64>()).prop_map(|(k, v)| Act::Insert(k, v)),
                proptest::collection::vec((k.clone(), any::<u64>()), 0..6).prop_map(Act::Many),
                k.clone().prop_map(Act::Below),
                proptest::collection::vec(k, 0..4).prop_map(Act::All),
            ]
        }

        fn below(m: &mut BTreeMap<String, u64>, key: &str) {
            m.retain(|k, _| !(k.len() > key.len() && paths::is_within(k, key)));
        }

        proptest! {
            #[test]
            fn behaves_like_an_ordered_map(acts in proptest::collection::vec(act(), 1..40)) {
                let mut m = ScanMap::default();
                let mut model: BTreeMap<String, u64> = BTreeMap::new();
                for a in acts {
                    match a {
                        Act::Insert(k, v) => {
                            let old = m.insert(KEYS[k], e(v)).map(|x| x.size);
                            prop_assert_eq!(old, model.insert(KEYS[k].to_owned(), v));
                        }
                        Act::Many(kv) => {
                            m.insert_many(kv.iter().map(|(k, v)| (KEYS[*k].to_owned(), e(*v))).collect());
                            for (k, v) in kv {
                                model.insert(KEYS[k].to_owned(), v);
                            }
                        }
                        Act::Below(k) => {
                            m.remove_below(KEYS[k]);
                            below(&mut model, KEYS[k]);
                        }
                        Act::All(ks) => {
                            let set: HashSet<String> = ks.iter().map(|k| KEYS[*k].to_owned()).collect();
                            m.remove_all(&set);
                            for k in &set {
                                model.remove(k);
                                below(&mut model, k);
                            }
                        }
                    }
                    let got: Vec<(&str, u64)> = m.iter().map(|(k, x)| (k, x.size)).collect();
                    let want: Vec<(&str, u64)> = model.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                    prop_assert_eq!(&got, &want);
                    for k in KEYS {
                        prop_assert_eq!(m.get(k).map(|x| x.size), model.get(k).copied());
                        let within: Vec<&str> = m.within(k).map(|(k, _)| k).collect();
                        let want: Vec<&str> = model.keys().map(String::as_str).filter(|x| paths::is_within(x, k)).collect();
                        prop_assert_eq!(within, want);
                        let kids: Vec<&str> = m.children(k).map(|(k, _)| k).collect();
                        let want: Vec<&str> = model.keys().map(String::as_str).filter(|x| paths::parent(x) == k && *x != k).collect();
                        prop_assert_eq!(kids, want);
                    }
                }
            }
        }
    }
}
