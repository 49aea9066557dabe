//! Opaque ids — session ids, event ids, access tokens — from a seed.
//!
//! They only need to be unique and look like QQ's, not to be unpredictable: a small
//! xorshift generator, seeded by the caller, so that a simulation replays exactly.

/// A generator of QQ-shaped ids.
#[derive(Debug, Clone)]
pub(crate) struct Ids(u64);

impl Ids {
    pub(crate) fn new(seed: u64) -> Self {
        // xorshift needs a non-zero state; mix the seed so that 0, 1, 2… differ widely.
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A UUID-shaped id (version 4 layout), like QQ's session ids and most event ids.
    pub(crate) fn uuid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    /// An opaque access token: 40 characters of `[0-9A-Za-z]`.
    pub(crate) fn token(&mut self) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (0..40)
            .map(|_| {
                let i = usize::try_from(self.next() % ALPHABET.len() as u64).unwrap_or(0);
                ALPHABET.get(i).map_or('0', |&b| char::from(b))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_determinism() {
        let mut ids = Ids::new(7);
        let uuid = ids.uuid();
        assert_eq!(uuid.len(), 36, "{uuid}");
        assert_eq!(uuid.split('-').map(str::len).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert_ne!(ids.uuid(), uuid);
        let token = ids.token();
        assert_eq!(token.len(), 40);
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(Ids::new(7).uuid(), uuid, "a seed replays");
        assert_ne!(Ids::new(8).uuid(), uuid);
    }
}
