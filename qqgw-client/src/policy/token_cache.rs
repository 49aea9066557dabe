//! When a token fetched for one shard serves another, or an API call.

use core::time::Duration;

use qqgw_proto::{AccessToken, Instant};

/// A token fetched this recently is handed to other shards instead of asking again.
pub const TOKEN_REUSE: Duration = Duration::from_secs(5);
/// An API call uses the cached token only while it has at least this long left.
pub const API_TOKEN_MARGIN: Duration = Duration::from_secs(30);

/// The access token a client's shards and API calls share, with the time it was fetched.
///
/// A shard asks for a token when its machine says [`Output::RefreshToken`]: it gets one
/// another shard fetched after its own, within the last [`TOKEN_REUSE`], so that shards
/// reconnecting together ask QQ once; otherwise the caller fetches a fresh one and
/// [`store`](Self::store)s it. An API call takes the cached token while it has more than
/// [`API_TOKEN_MARGIN`] left and QQ has not refused it.
///
/// [`Output::RefreshToken`]: qqgw_proto::Output::RefreshToken
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use qqgw_client::policy::TokenCache;
/// use qqgw_proto::{AccessToken, Instant};
///
/// let mut cache = TokenCache::default();
/// let t0 = Instant::from_millis(1_000);
/// cache.store(AccessToken::new("t", t0 + Duration::from_secs(7200)), t0);
/// // Another shard, reconnecting a second later, reuses it.
/// assert!(cache.for_shard(None, t0 + Duration::from_secs(1)).is_some());
/// // The shard that fetched it, asking again, needs a fresh one.
/// assert!(cache.for_shard(Some(t0), t0 + Duration::from_secs(1)).is_none());
/// // An API call uses it for most of its life.
/// assert!(cache.for_api(None, t0 + Duration::from_secs(3600)).is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct TokenCache {
    cached: Option<(AccessToken, Instant)>,
}

impl TokenCache {
    /// A token for a shard whose own token was fetched at `held` (if ever), with its fetch
    /// time: one fetched by another shard since then and within [`TOKEN_REUSE`] of `now`.
    #[must_use]
    pub fn for_shard(&self, held: Option<Instant>, now: Instant) -> Option<(AccessToken, Instant)> {
        self.usable(|token, fetched| {
            held.is_none_or(|held| fetched > held)
                && now.saturating_duration_since(fetched) < TOKEN_REUSE
                && token.expires_at() > now
        })
    }

    /// A token for an API call, with its fetch time: the cached one while it has more than
    /// [`API_TOKEN_MARGIN`] left and was not fetched at or before `rejected` (the fetch time
    /// of a token QQ refused).
    #[must_use]
    pub fn for_api(&self, rejected: Option<Instant>, now: Instant) -> Option<(AccessToken, Instant)> {
        self.usable(|token, fetched| {
            rejected.is_none_or(|r| fetched > r) && token.expires_at() > now + API_TOKEN_MARGIN
        })
    }

    /// A token fetched at `fetched` replaces the cached one.
    pub fn store(&mut self, token: AccessToken, fetched: Instant) {
        self.cached = Some((token, fetched));
    }

    fn usable(&self, ok: impl FnOnce(&AccessToken, Instant) -> bool) -> Option<(AccessToken, Instant)> {
        let (token, fetched) = self.cached.as_ref()?;
        ok(token, *fetched).then(|| (token.clone(), *fetched))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_reuse_a_fresh_token_and_api_calls_a_lasting_one() {
        let t0 = Instant::from_millis(10_000);
        let mut cache = TokenCache::default();
        assert!(cache.for_shard(None, t0).is_none());
        cache.store(AccessToken::new("t", t0 + Duration::from_secs(60)), t0);
        let earlier = Instant::from_millis(9_000);
        let other = cache.for_shard(Some(earlier), Instant::from_millis(14_999));
        assert_eq!(other.map(|(_, fetched)| fetched), Some(t0));
        assert!(cache.for_shard(None, t0 + TOKEN_REUSE).is_none());
        assert!(cache.for_shard(Some(t0), t0).is_none());
        // API calls: while more than the margin is left, unless QQ refused it.
        // The token expires at 70 s; the margin is 30 s.
        assert!(cache.for_api(None, Instant::from_millis(39_999)).is_some());
        assert!(cache.for_api(None, Instant::from_millis(40_000)).is_none());
        assert!(cache.for_api(Some(t0), t0).is_none());
        assert!(cache.for_api(Some(earlier), t0).is_some());
        // An expired token is never handed to a shard.
        cache.store(AccessToken::new("old", t0), t0);
        assert!(cache.for_shard(None, t0).is_none());
    }
}
