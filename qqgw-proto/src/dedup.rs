//! Recently seen event ids, to drop an event QQ pushes twice under new sequence numbers.

#[cfg(feature = "webhook")]
use std::hash::Hasher;

/// How many event ids are remembered.
pub(crate) const RECENT_IDS: usize = 1024;

/// Slots of the id table: twice the ids it holds, so that a probe finds its id or an
/// empty slot within about two steps.
const SLOTS: usize = 2 * RECENT_IDS;

/// A bounded set of the last [`RECENT_IDS`] event ids, as 64-bit hashes ([`id_hash`]).
///
/// Once per dispatch, so it is built for that: the hashes sit in an open-addressed table
/// (linear probing, half full at most) and in a ring that says which is the oldest; both
/// are allocated once, at the first id, and never grow. Inserting an id and forgetting
/// the oldest cost a few probes, without hashing anything twice. 24 KiB per machine.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecentIds {
    /// [`SLOTS`] slots once allocated; 0 is an empty slot (no hash is 0: see [`key`]).
    table: Vec<u64>,
    /// The ids in the order they came, as a ring of [`RECENT_IDS`]; `next` is the oldest
    /// once it is full.
    ring: Vec<u64>,
    next: usize,
}

/// The table's key of an id: its hash, never 0 (the empty slot).
fn key(id: &str) -> u64 {
    id_hash(id.as_bytes()).max(1)
}

impl RecentIds {
    /// Records `id`; false if it was already among the recent ones.
    pub(crate) fn insert(&mut self, id: &str) -> bool {
        if self.table.is_empty() {
            self.table = vec![0; SLOTS];
            self.ring = Vec::with_capacity(RECENT_IDS);
        }
        let key = key(id);
        let Some(slot) = self.find(key) else { return false };
        if let Some(free) = self.table.get_mut(slot) {
            *free = key;
        }
        if self.ring.len() < RECENT_IDS {
            self.ring.push(key);
        } else if let Some(oldest) = self.ring.get_mut(self.next) {
            let old = core::mem::replace(oldest, key);
            self.next = (self.next + 1) % RECENT_IDS;
            self.remove(old);
        }
        true
    }

    /// The empty slot where `key` goes, or `None` if it is in the table.
    fn find(&self, key: u64) -> Option<usize> {
        let mut i = home(key);
        // The table is never full, so the walk meets an empty slot; the bound is a guard.
        for _ in 0..SLOTS {
            match self.table.get(i) {
                Some(&k) if k == key => return None,
                Some(0) | None => return Some(i),
                Some(_) => i = (i + 1) % SLOTS,
            }
        }
        Some(i)
    }

    /// Takes `key` out of the table, moving back the keys after it that probed past its
    /// slot (deletion without tombstones, so the table never fills with them).
    fn remove(&mut self, key: u64) {
        let mut hole = home(key);
        let mut found = false;
        for _ in 0..SLOTS {
            match self.table.get(hole) {
                Some(&k) if k == key => {
                    found = true;
                    break;
                }
                Some(0) | None => return,
                Some(_) => hole = (hole + 1) % SLOTS,
            }
        }
        if !found {
            return;
        }
        let mut i = hole;
        for _ in 0..SLOTS {
            i = (i + 1) % SLOTS;
            let k = self.table.get(i).copied().unwrap_or(0);
            if k == 0 {
                break;
            }
            // `k` may fill the hole if its home is not between the hole and `i` (cyclically).
            if (i.wrapping_sub(home(k)) % SLOTS) >= (i.wrapping_sub(hole) % SLOTS) {
                if let Some(h) = self.table.get_mut(hole) {
                    *h = k;
                }
                hole = i;
            }
        }
        if let Some(h) = self.table.get_mut(hole) {
            *h = 0;
        }
    }

    /// How many ids are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.iter().filter(|&&k| k != 0).count()
    }
}

/// Where `key`'s probe starts.
fn home(key: u64) -> usize {
    // The hash is well mixed in every bit; the low ones pick the slot.
    (key as usize) % SLOTS
}

/// A 64-bit hash of an event id: 16 bytes at a time folded by a 64 × 64 → 128-bit
/// multiply (wyhash's mixing), three to four times cheaper than SipHash on QQ's ~90-byte
/// ids. Ids come from QQ over TLS, not from someone who could choose collisions, and
/// SipHash was used without a secret key anyway; for ids that are not chosen, a false
/// "seen" among 1,024 remembered ids is about 1 in 2^54.
pub(crate) fn id_hash(bytes: &[u8]) -> u64 {
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;
    const P2: u64 = 0x8ebc_6af0_9c88_c6e3;
    fn fold(a: u64, b: u64) -> u64 {
        let product = u128::from(a) * u128::from(b);
        (product as u64) ^ ((product >> 64) as u64)
    }
    fn word(bytes: &[u8]) -> u64 {
        if let Ok(whole) = <[u8; 8]>::try_from(bytes) {
            return u64::from_le_bytes(whole);
        }
        let mut w = [0u8; 8];
        for (to, from) in w.iter_mut().zip(bytes) {
            *to = *from;
        }
        u64::from_le_bytes(w)
    }
    let len = bytes.len() as u64;
    let mut h = P0 ^ len;
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        let (a, b) = chunk.split_at(8);
        h = fold(word(a) ^ P1, word(b) ^ h);
    }
    let rest = chunks.remainder();
    let (a, b) = rest.split_at(rest.len().min(8));
    h = fold(word(a) ^ P1, word(b) ^ h ^ P2);
    fold(h ^ P2, len ^ P1)
}

/// A [`Hasher`] for keys that are already hashes (the webhook's replay guard's): hashing
/// them again would buy nothing.
#[cfg(feature = "webhook")]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeyHasher(u64);

#[cfg(feature = "webhook")]
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
        assert_eq!(ids.ring.len(), RECENT_IDS);
        assert_eq!(ids.len(), RECENT_IDS);
    }

    #[test]
    fn every_id_of_the_window_is_found_after_many_evictions() {
        // Against a plain model: the last RECENT_IDS ids are seen, older ones are not.
        let mut ids = RecentIds::default();
        let name = |i: u64| format!("GROUP_AT_MESSAGE_CREATE:{:064x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for i in 0..10 * RECENT_IDS as u64 {
            assert!(ids.insert(&name(i)), "{i} is new");
            if i % 97 == 0 {
                let back = i.saturating_sub(RECENT_IDS as u64 - 1);
                assert!(!ids.insert(&name(back)), "{back} is within the window at {i}");
                assert!(!ids.insert(&name(i)), "{i} was just seen");
            }
        }
        assert_eq!(ids.len(), RECENT_IDS);
        assert!(ids.insert(&name(0)), "long forgotten");
    }

    #[test]
    fn colliding_homes_probe_and_delete_correctly() {
        // Keys with the same home slot exercise the probe and the backward shift.
        let mut ids = RecentIds { table: vec![0; SLOTS], ring: Vec::new(), next: 0 };
        let keys: Vec<u64> = (1..=5).map(|k| k * SLOTS as u64 + 7).collect();
        for &k in &keys {
            let slot = ids.find(k).unwrap();
            ids.table[slot] = k;
        }
        ids.remove(keys[1]);
        for (n, &k) in keys.iter().enumerate() {
            assert_eq!(ids.find(k).is_none(), n != 1, "key {n}");
        }
        assert_eq!(ids.len(), 4);
    }

    #[test]
    fn the_hash_spreads_ids_that_differ_anywhere() {
        let base = "GROUP_AT_MESSAGE_CREATE:qbk6uxm6egyn5kt0bvnyylp7liq5928e104pz0ef3ni2yet5s394r7mm1hk26w2r";
        let mut seen = std::collections::HashSet::new();
        for i in 0..base.len() {
            let mut bytes = base.as_bytes().to_vec();
            bytes[i] ^= 1;
            assert!(seen.insert(id_hash(&bytes)), "byte {i}");
            assert!(seen.insert(id_hash(&bytes[..i])), "prefix {i}");
        }
        assert!(seen.insert(id_hash(base.as_bytes())));
    }
}
