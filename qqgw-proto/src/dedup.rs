//! Recently seen event ids, to drop an event QQ pushes twice under new sequence numbers.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// How many event ids are remembered.
pub(crate) const RECENT_IDS: usize = 1024;

/// A bounded set of the last [`RECENT_IDS`] event ids (as 64-bit hashes).
#[derive(Debug, Clone, Default)]
pub(crate) struct RecentIds {
    order: VecDeque<u64>,
    seen: HashSet<u64, BuildHasherDefault<KeyHasher>>,
}

/// The set's keys are already SipHash outputs of the ids: hashing them again (as the
/// default `RandomState` would, on every insert and every eviction) buys nothing.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used for `u64` keys; this keeps any other use correct.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl RecentIds {
    /// Records `id`; false if it was already among the recent ones.
    pub(crate) fn insert(&mut self, id: &str) -> bool {
        let mut hasher = DefaultHasher::new();
        id.hash(&mut hasher);
        let key = hasher.finish();
        if !self.seen.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > RECENT_IDS {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_bounded_window() {
        let mut ids = RecentIds::default();
        assert!(ids.insert("a"));
        assert!(!ids.insert("a"));
        for i in 0..RECENT_IDS {
            assert!(ids.insert(&i.to_string()));
        }
        assert!(ids.insert("a"), "the oldest id is forgotten");
        assert_eq!(ids.order.len(), RECENT_IDS);
        assert_eq!(ids.seen.len(), RECENT_IDS);
    }
}
