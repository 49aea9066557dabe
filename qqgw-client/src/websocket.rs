//! The WebSocket connection of a shard: the handshake, done here once for every runtime
//! over the byte stream the runtime opens, and its settings.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;
use std::sync::{Arc, OnceLock};

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Error as WsError;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::error::UrlError;
use futures_io::{AsyncRead, AsyncWrite};

use crate::runtime::Runtime;

/// The largest WebSocket message (and frame) a shard accepts: 4 MiB. QQ's events are a
/// few KiB; a larger message ends the connection (as a drop, so the session is resumed)
/// instead of growing a buffer to tungstenite's default of 64 MiB.
pub const MAX_MESSAGE_SIZE: usize = 4 << 20;

/// The WebSocket settings every shard connects with.
///
/// The read buffer is 16 KiB instead of tungstenite's 128 KiB: that buffer is zero-filled
/// on the first read, so it stays resident for every shard, while gateway frames are
/// mostly under 2 KiB (a larger one is still read whole, over several reads).
///
/// Messages and frames are limited to [`MAX_MESSAGE_SIZE`] (4 MiB) instead of
/// tungstenite's 64 MiB and 16 MiB: what a broken or hostile server can make each shard
/// buffer. QQ's events are kilobytes (the same events arrive as webhook bodies, limited to
/// 1 MiB).
#[must_use]
pub fn websocket_config() -> async_tungstenite::tungstenite::protocol::WebSocketConfig {
    async_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .max_message_size(Some(MAX_MESSAGE_SIZE))
        .max_frame_size(Some(MAX_MESSAGE_SIZE))
}

/// The TLS settings every runtime's [`connect`](Runtime::connect) uses for `wss://`: rustls
/// with the *ring* provider, its safe default protocol versions, and the Mozilla root
/// certificates of `webpki-roots` (the same trust the HTTP client has). Built once.
#[must_use]
pub fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|builder| builder.with_root_certificates(roots).with_no_client_auth());
        // The ring provider supports the default versions; a config without roots (every
        // handshake refused) is the safe fallback should that ever change.
        Arc::new(config.unwrap_or_else(|_| {
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        }))
    }))
}

/// A byte stream that is plain TCP or TLS over it: what a runtime's
/// [`connect`](Runtime::connect) returns, either way one type.
#[derive(Debug)]
pub enum MaybeTls<P, T> {
    /// Plain TCP (`ws://`).
    Plain(P),
    /// TLS over TCP (`wss://`).
    Tls(T),
}

impl<P: AsyncRead + Unpin, T: AsyncRead + Unpin> AsyncRead for MaybeTls<P, T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl<P: AsyncWrite + Unpin, T: AsyncWrite + Unpin> AsyncWrite for MaybeTls<P, T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_close(cx),
            Self::Tls(s) => Pin::new(s).poll_close(cx),
        }
    }
}

/// Opens a WebSocket client connection to `url` (`ws://` or `wss://`): the runtime's byte
/// stream to its host and port (TLS for `wss://`), then the handshake, with
/// [`websocket_config`].
pub(crate) async fn connect<R: Runtime>(
    runtime: &R,
    url: &str,
) -> Result<WebSocketStream<R::Stream>, WsError> {
    let request = url.into_client_request()?;
    let tls = match request.uri().scheme_str() {
        Some(scheme) if scheme.eq_ignore_ascii_case("wss") => true,
        Some(scheme) if scheme.eq_ignore_ascii_case("ws") => false,
        _ => return Err(WsError::Url(UrlError::UnsupportedUrlScheme)),
    };
    let host = request.uri().host().ok_or(WsError::Url(UrlError::NoHostName))?;
    // An IPv6 literal keeps its brackets in a URL, not in an address.
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host).to_owned();
    let port = request.uri().port_u16().unwrap_or(if tls { 443 } else { 80 });
    let stream = runtime.connect(&host, port, tls).await?;
    let (ws, _response) =
        async_tungstenite::client_async_with_config(request, stream, Some(websocket_config())).await?;
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_config_trusts_the_web_roots() {
        let config = tls_config();
        assert!(Arc::ptr_eq(&config, &tls_config()), "built once");
        assert!(!webpki_roots::TLS_SERVER_ROOTS.is_empty());
    }
}
