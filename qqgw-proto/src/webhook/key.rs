//! The Ed25519 key a bot's AppSecret stands for, and the hex text signatures travel as.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey};
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
        Ok(Self { signing: SigningKey::from_bytes(&seed) })
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
        self.signing.verifying_key().to_bytes()
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
    /// [`Webhook`](super::Webhook)'s business.
    ///
    /// # Errors
    ///
    /// - [`WebhookError::BadSignatureEncoding`]: not 128 hex digits;
    /// - [`WebhookError::NonCanonicalSignature`]: the top three bits of the last byte are set;
    /// - [`WebhookError::BadSignature`]: the signature does not match.
    pub fn verify(&self, signature_hex: &str, timestamp: &str, body: &[u8]) -> Result<(), WebhookError> {
        let bytes = decode_canonical(signature_hex)?;
        let signature = Signature::from_bytes(&bytes);
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(body);
        self.signing
            .verifying_key()
            .verify_strict(&message, &signature)
            .map_err(|_| WebhookError::BadSignature)
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

    #[test]
    fn seed_repeats_short_secrets() {
        // Secrets shorter than 16 bytes need more than one doubling.
        let a = WebhookKey::from_secret("abc").map(|k| k.public_key());
        let b = WebhookKey::from_secret(&"abc".repeat(11)).map(|k| k.public_key());
        assert_eq!(a, b);
        assert!(WebhookKey::from_secret("").is_err());
    }
}
