//! The Ed25519 key a bot's AppSecret stands for, and the hex text signatures travel as.

use std::fmt;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::error::{EmptySecret, WebhookError};
use crate::token::Credentials;

/// Length of an Ed25519 seed, and of the AppSecret prefix that becomes one.
const SEED_LEN: usize = 32;
/// Length of an Ed25519 signature in bytes.
const SIGNATURE_LEN: usize = 64;

/// The bot's webhook key: the Ed25519 key pair derived from its AppSecret.
///
/// QQ derives the same key from the same secret: it signs every callback with it, and
/// checks the signature a bot returns for an op 13 validation against its public half. So
/// the one key both [verifies](Self::verify) callbacks and [signs](Self::sign_validation)
/// validation answers.
///
/// Derivation: the secret's bytes are repeated until there are at least 32, and the first
/// 32 become the Ed25519 seed. Its `Debug` shows only the public key, never the secret or
/// the seed; the seed is wiped from memory (with `zeroize`) when the key is dropped.
///
/// # Examples
///
/// ```
/// use qqgw_proto::webhook::WebhookKey;
///
/// let key = WebhookKey::from_secret("DG5g3B4j9X2KOErG")?;
/// assert_eq!(key.public_key_hex(), "8b28ded5630f9051c205dd04c6ec56ad0b08b8812b2fe30ee9aece0ab41926f3");
/// assert!(!format!("{key:?}").contains("DG5g"));
///
/// let signature = key.sign_validation("Arq0D5A61EgUu4OxUvOp", "1725442341");
/// assert!(signature.starts_with("87befc99"));
/// # Ok::<(), qqgw_proto::webhook::EmptySecret>(())
/// ```
#[derive(Clone)]
pub struct WebhookKey {
    signing: SigningKey,
    /// The public half as every verification uses it, computed once with the key.
    public: PublicKey,
}

/// What Ed25519 strict verification needs of the public key `A`, computed once.
#[derive(Clone, Copy)]
struct PublicKey {
    /// `A` compressed: the start of every challenge hash.
    compressed: [u8; 32],
    /// `−A`, for `[s]B − [k]A`.
    minus_a: EdwardsPoint,
    /// Whether `A` has small order (never for a key derived from a seed; such a key
    /// verifies nothing, as with ed25519-dalek's `verify_strict`).
    small_order: bool,
    /// Whether `A` is in the prime-order subgroup (every key derived from a seed is).
    torsion_free: bool,
}

impl PublicKey {
    fn new(signing: &SigningKey) -> Self {
        let verifying = signing.verifying_key();
        let a = verifying.to_edwards();
        Self {
            compressed: verifying.to_bytes(),
            minus_a: -a,
            small_order: a.is_small_order(),
            torsion_free: a.is_torsion_free(),
        }
    }

    /// Ed25519 verification with exactly the rules of ed25519-dalek's `verify_strict`, of
    /// the signature `R ‖ s` over the concatenation of `message`'s parts:
    ///
    /// - `s` is canonical (below the group order ℓ);
    /// - `R` is the canonical encoding of a point that is not of small order, and `A`
    ///   is not of small order;
    /// - `[s]B − [k]A = R`, with `k = SHA-512(R ‖ A ‖ message) mod ℓ`.
    ///
    /// `verify_strict` checks the last equation by compressing the left side and comparing
    /// bytes, which costs a field inversion; here the points are compared in projective
    /// coordinates (`R` is decompressed anyway, for its small-order check), and the one
    /// encoding difference that could make — a non-canonical `R` — is refused first. The
    /// message is hashed in parts, so the timestamp and body need not be copied together.
    ///
    /// `R` of small order: when `A` is in the prime-order subgroup, so is `[s]B − [k]A`,
    /// and the one point of small order in that subgroup is the identity; so once the
    /// equation holds, `R` is of small order exactly when it is the identity, which is
    /// cheaper to test than multiplying `R` by the cofactor. Other keys get the full check.
    fn verify_strict(&self, signature: &[u8; SIGNATURE_LEN], message: [&[u8]; 2]) -> bool {
        let (r_bytes, s_bytes) = split_signature(signature);
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else { return false };
        if !is_canonical_y(&r_bytes) {
            return false;
        }
        let Some(r) = CompressedEdwardsY(r_bytes).decompress() else { return false };
        if self.small_order || (!self.torsion_free && r.is_small_order()) {
            return false;
        }
        let mut hash = Sha512::new();
        hash.update(r_bytes);
        hash.update(self.compressed);
        for part in message {
            hash.update(part);
        }
        let k = Scalar::from_hash(hash);
        EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &self.minus_a, &s) == r && !r.is_identity()
    }
}

/// A signature's `R` and `s` halves.
fn split_signature(signature: &[u8; SIGNATURE_LEN]) -> ([u8; 32], [u8; 32]) {
    let (mut r, mut s) = ([0u8; 32], [0u8; 32]);
    for (slot, byte) in r.iter_mut().chain(s.iter_mut()).zip(signature) {
        *slot = *byte;
    }
    (r, s)
}

/// Whether the y coordinate of an encoded point (its low 255 bits) is below
/// p = 2^255 − 19, i.e. not one of the 19 non-canonical values p … 2^255 − 1. (The other
/// non-canonical encodings, x = 0 with the sign bit set, are of small-order points.)
fn is_canonical_y(encoded: &[u8; 32]) -> bool {
    let [first, middle @ .., last] = encoded;
    !(*first >= 0xED && middle.iter().all(|&b| b == 0xFF) && last & 0x7F == 0x7F)
}

impl WebhookKey {
    /// The key of the bot with this AppSecret.
    ///
    /// # Errors
    ///
    /// [`EmptySecret`] if `secret` is empty: no key can be derived from it.
    pub fn from_secret(secret: &str) -> Result<Self, EmptySecret> {
        if secret.is_empty() {
            return Err(EmptySecret);
        }
        // Wiped on drop by a write the optimiser may not remove (a plain `fill(0)` of a
        // buffer never read again can be).
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        for (slot, byte) in seed.iter_mut().zip(secret.bytes().cycle()) {
            *slot = byte;
        }
        // `SigningKey` wipes its own copy on drop (ed25519-dalek's `zeroize` feature).
        let signing = SigningKey::from_bytes(&seed);
        let public = PublicKey::new(&signing);
        Ok(Self { signing, public })
    }

    /// The key of the bot with these credentials (see [`from_secret`](Self::from_secret)).
    ///
    /// # Errors
    ///
    /// [`EmptySecret`] if the AppSecret is empty.
    pub fn from_credentials(credentials: &Credentials) -> Result<Self, EmptySecret> {
        Self::from_secret(credentials.secret())
    }

    /// The public key, 32 bytes.
    #[must_use]
    pub fn public_key(&self) -> [u8; 32] {
        self.public.compressed
    }

    /// The public key as 64 lowercase hex digits.
    #[must_use]
    pub fn public_key_hex(&self) -> String {
        encode_hex(&self.public_key())
    }

    /// The signature that answers an op 13 validation: Ed25519 over `event_ts ‖ plain_token`,
    /// as 128 lowercase hex digits.
    #[must_use]
    pub fn sign_validation(&self, plain_token: &str, event_ts: &str) -> String {
        let mut message = Vec::with_capacity(event_ts.len() + plain_token.len());
        message.extend_from_slice(event_ts.as_bytes());
        message.extend_from_slice(plain_token.as_bytes());
        self.sign_hex(&message)
    }

    /// The whole HTTP 200 body answering an op 13 validation:
    /// `{"plain_token":"…","signature":"…"}`.
    #[must_use]
    pub fn validation_body(&self, plain_token: &str, event_ts: &str) -> String {
        #[derive(serde::Serialize)]
        struct Answer<'a> {
            plain_token: &'a str,
            signature: &'a str,
        }
        let signature = self.sign_validation(plain_token, event_ts);
        serde_json::to_string(&Answer { plain_token, signature: &signature }).unwrap_or_default()
    }

    /// Signs a callback the way QQ does: Ed25519 over `timestamp ‖ body`, as 128 lowercase
    /// hex digits, the value of `X-Signature-Ed25519`. For tests, mocks and examples; a bot
    /// never needs to sign a callback.
    #[must_use]
    pub fn sign_callback(&self, timestamp: &str, body: &[u8]) -> String {
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(body);
        self.sign_hex(&message)
    }

    /// Checks a callback's signature: `signature_hex` is the
    /// `X-Signature-Ed25519` header, `timestamp` the `X-Signature-Timestamp` header exactly
    /// as received, `body` the raw request body.
    ///
    /// This checks the signature only; the freshness of the timestamp is
    /// [`Webhook`](super::Webhook)'s business. The rules are those of ed25519-dalek's
    /// `verify_strict` (canonical `s` and `R`, neither `R` nor the key of small order).
    ///
    /// # Errors
    ///
    /// - [`WebhookError::BadSignatureEncoding`]: not 128 hex digits;
    /// - [`WebhookError::NonCanonicalSignature`]: the top three bits of the last byte are set;
    /// - [`WebhookError::BadSignature`]: the signature does not match.
    pub fn verify(&self, signature_hex: &str, timestamp: &str, body: &[u8]) -> Result<(), WebhookError> {
        let bytes = decode_canonical(signature_hex)?;
        if self.public.verify_strict(&bytes, [timestamp.as_bytes(), body]) {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }

    fn sign_hex(&self, message: &[u8]) -> String {
        encode_hex(&self.signing.sign(message).to_bytes())
    }
}

impl fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookKey").field("public_key", &self.public_key_hex()).finish_non_exhaustive()
    }
}

/// The 64 bytes of a signature that is 128 hex digits and canonical.
fn decode_canonical(signature_hex: &str) -> Result<[u8; SIGNATURE_LEN], WebhookError> {
    let bytes = decode_signature(signature_hex).ok_or(WebhookError::BadSignatureEncoding)?;
    if bytes.last().is_some_and(|last| last & 0xE0 != 0) {
        return Err(WebhookError::NonCanonicalSignature);
    }
    Ok(bytes)
}

/// The errors of [`WebhookKey::verify`] that show without the key: the form of the
/// `X-Signature-Ed25519` header.
pub(super) fn check_signature_encoding(signature_hex: &str) -> Result<(), WebhookError> {
    decode_canonical(signature_hex).map(|_| ())
}

/// Lowercase hex of `bytes`.
fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0F] {
            out.push(char::from(DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0')));
        }
    }
    out
}

/// The 64 bytes of a 128-hex-digit signature (either case), or `None`.
fn decode_signature(text: &str) -> Option<[u8; SIGNATURE_LEN]> {
    let text = text.as_bytes();
    if text.len() != SIGNATURE_LEN * 2 {
        return None;
    }
    let mut out = [0u8; SIGNATURE_LEN];
    for (slot, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let [high, low] = pair else { return None };
        *slot = (hex_value(*high)? << 4) | hex_value(*low)?;
    }
    Some(out)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..64).map(|i| (i * 37 % 256) as u8).collect();
        let text = encode_hex(&bytes);
        assert_eq!(decode_signature(&text).map(|b| b.to_vec()), Some(bytes.clone()));
        assert_eq!(decode_signature(&text.to_uppercase()).map(|b| b.to_vec()), Some(bytes));
        assert_eq!(decode_signature(&text[..126]), None);
        assert_eq!(decode_signature(&format!("{}zz", &text[..126])), None);
        assert_eq!(decode_signature(&format!("{}é", &text[..126])), None);
    }

    /// ed25519-dalek's `verify_strict`, the rules `verify` must follow exactly.
    fn dalek(key: &WebhookKey, signature: &[u8; SIGNATURE_LEN], message: &[u8]) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        key.signing.verifying_key().verify_strict(message, &signature).is_ok()
    }

    /// Both verifications of `signature` over `timestamp ‖ body`; they must agree.
    fn agree(key: &WebhookKey, signature: &[u8; SIGNATURE_LEN], timestamp: &str, body: &[u8]) -> bool {
        let message = [timestamp.as_bytes(), body].concat();
        let ours = key.public.verify_strict(signature, [timestamp.as_bytes(), body]);
        assert_eq!(ours, dalek(key, signature, &message), "{}", encode_hex(signature));
        ours
    }

    fn signature_of(key: &WebhookKey, timestamp: &str, body: &[u8]) -> [u8; SIGNATURE_LEN] {
        decode_signature(&key.sign_callback(timestamp, body)).unwrap_or([0; SIGNATURE_LEN])
    }

    fn hex32(text: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (slot, i) in out.iter_mut().zip((0..text.len()).step_by(2)) {
            *slot = u8::from_str_radix(&text[i..i + 2], 16).unwrap_or(0);
        }
        out
    }

    #[test]
    fn verification_follows_verify_strict_on_valid_and_corrupted_signatures() {
        let key = WebhookKey::from_secret("DG5g3B4j9X2KOErG").unwrap();
        let other = WebhookKey::from_secret("another secret").unwrap();
        for i in 0..16 {
            let timestamp = format!("17254423{i:02}");
            let body = format!(r#"{{"op":0,"id":"E:{i}","d":{{"n":{}}}}}"#, "9".repeat(i * 7));
            let signature = signature_of(&key, &timestamp, body.as_bytes());
            assert!(agree(&key, &signature, &timestamp, body.as_bytes()));
            assert!(!agree(&other, &signature, &timestamp, body.as_bytes()));
            assert!(!agree(&key, &signature, "1725442399", body.as_bytes()));
            assert!(!agree(&key, &signature, &timestamp, format!("{body} ").as_bytes()));
            // The split between timestamp and body does not matter, only their concatenation.
            let (head, tail) = body.split_at(3);
            assert!(agree(&key, &signature, &format!("{timestamp}{head}"), tail.as_bytes()));
            // Every single-bit corruption of the signature.
            for bit in 0..SIGNATURE_LEN * 8 {
                let mut corrupted = signature;
                if let Some(byte) = corrupted.get_mut(bit / 8) {
                    *byte ^= 1 << (bit % 8);
                }
                assert!(!agree(&key, &corrupted, &timestamp, body.as_bytes()));
            }
        }
    }

    #[test]
    fn a_non_canonical_s_is_refused_like_verify_strict() {
        // ℓ, the group order, little-endian.
        let order = hex32("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
        let key = WebhookKey::from_secret("DG5g3B4j9X2KOErG").unwrap();
        let signature = signature_of(&key, "1725442341", b"{}");
        assert!(agree(&key, &signature, "1725442341", b"{}"));
        // s + ℓ: the same s modulo ℓ, still below 2^253, so the top-bits check passes it.
        let (r, s) = split_signature(&signature);
        let mut carry = 0u16;
        let mut s_plus = [0u8; 32];
        for ((slot, a), b) in s_plus.iter_mut().zip(s).zip(order) {
            let sum = u16::from(a) + u16::from(b) + carry;
            *slot = (sum & 0xFF) as u8;
            carry = sum >> 8;
        }
        let mut malleated = [0u8; SIGNATURE_LEN];
        for (slot, byte) in malleated.iter_mut().zip(r.iter().chain(&s_plus)) {
            *slot = *byte;
        }
        assert!(!agree(&key, &malleated, "1725442341", b"{}"));
    }

    #[test]
    fn non_canonical_and_small_order_r_are_refused_like_verify_strict() {
        let key = WebhookKey::from_secret("DG5g3B4j9X2KOErG").unwrap();
        let signature = signature_of(&key, "1725442341", b"{}");
        let (_, s) = split_signature(&signature);
        let with_r = |r: [u8; 32]| {
            let mut out = [0u8; SIGNATURE_LEN];
            for (slot, byte) in out.iter_mut().zip(r.iter().chain(&s)) {
                *slot = *byte;
            }
            out
        };
        // The 19 encodings of y = p … 2^255 − 1, with either sign bit.
        for extra in 0..19u8 {
            for sign in [0u8, 0x80] {
                let mut r = [0xFFu8; 32];
                r[0] = 0xED + extra;
                r[31] = 0x7F | sign;
                assert!(!is_canonical_y(&r));
                assert!(!agree(&key, &with_r(r), "1725442341", b"{}"));
            }
        }
        let mut below = [0xFFu8; 32];
        below[0] = 0xEC;
        below[31] = 0x7F;
        assert!(is_canonical_y(&below), "p − 1 is canonical");
        // Points of small order (the eight-torsion), and "negative zero" x encodings.
        let small = [
            "0100000000000000000000000000000000000000000000000000000000000000",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000080",
            "0100000000000000000000000000000000000000000000000000000000000080",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        ];
        for encoded in small {
            let r = hex32(encoded);
            if let Some(point) = CompressedEdwardsY(r).decompress() {
                assert!(point.is_small_order(), "{encoded}");
            }
            assert!(!agree(&key, &with_r(r), "1725442341", b"{}"), "{encoded}");
        }
    }

    #[test]
    fn an_identity_r_that_satisfies_the_equation_is_refused_like_verify_strict() {
        // With the secret scalar a, s = k·a makes [s]B − [k]A the identity: the equation
        // holds for R = the identity, a point of small order, which strict rules refuse.
        let key = WebhookKey::from_secret("DG5g3B4j9X2KOErG").unwrap();
        let digest = Sha512::digest(key.signing.to_bytes());
        let mut a = [0u8; 32];
        a.copy_from_slice(&digest[..32]);
        a[0] &= 248;
        a[31] &= 127;
        a[31] |= 64;
        let a = Scalar::from_bytes_mod_order(a);
        assert_eq!(EdwardsPoint::mul_base(&a).compress().to_bytes(), key.public_key());
        // The identity, canonical, and with the sign bit of its x = 0 set.
        for r in [hex32("01"), hex32("0100000000000000000000000000000000000000000000000000000000000080")] {
            let (timestamp, body) = ("1725442341", b"{}");
            let mut hash = Sha512::new();
            hash.update(r);
            hash.update(key.public_key());
            hash.update(timestamp);
            hash.update(body);
            let s = Scalar::from_hash(hash) * a;
            let mut signature = [0u8; SIGNATURE_LEN];
            for (slot, byte) in signature.iter_mut().zip(r.iter().chain(s.as_bytes())) {
                *slot = *byte;
            }
            let point = CompressedEdwardsY(r).decompress().unwrap();
            let k = Scalar::from_hash(Sha512::new_with_prefix(
                [&r[..], &key.public_key(), timestamp.as_bytes(), body].concat(),
            ));
            assert_eq!(EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &key.public.minus_a, &s), point);
            assert!(!agree(&key, &signature, timestamp, body));
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_signatures_get_verify_strict_s_answer(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, SIGNATURE_LEN),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            valid_r in proptest::bool::ANY,
        ) {
            let key = WebhookKey::from_secret("DG5g3B4j9X2KOErG").unwrap();
            let mut signature = [0u8; SIGNATURE_LEN];
            for (slot, byte) in signature.iter_mut().zip(&bytes) {
                *slot = *byte;
            }
            if valid_r {
                // A real R (of the signature of this very body), with an arbitrary s.
                let real = signature_of(&key, "1725442341", &body);
                for (slot, byte) in signature.iter_mut().zip(real.iter().take(32)) {
                    *slot = *byte;
                }
            }
            agree(&key, &signature, "1725442341", &body);
        }
    }

    #[test]
    fn seed_repeats_short_secrets() {
        // Secrets shorter than 16 bytes need more than one doubling.
        let a = WebhookKey::from_secret("abc").map(|k| k.public_key());
        let b = WebhookKey::from_secret(&"abc".repeat(11)).map(|k| k.public_key());
        assert_eq!(a, b);
        assert!(WebhookKey::from_secret("").is_err());
    }
}
