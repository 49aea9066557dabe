//! One WebSocket connection: HELLO, then frames in (decided by [`State`]) and scripted
//! commands out.
//!
//! [`State`]: crate::state::State

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_tungstenite::WebSocketStream;
use async_tungstenite::tokio::{TokioAdapter, accept_async};
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use futures_util::{SinkExt, StreamExt};
use qqgw_proto::CloseCode;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::state::{Command, Shared};

type Ws = WebSocketStream<TokioAdapter<TcpStream>>;

/// How long the mock waits for the client's answer to its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How many queued frames are written between two looks at the client's frames.
const BATCH: usize = 256;

enum Flow {
    Continue,
    Close(u16),
    Drop,
    Zombie,
}

pub(crate) async fn serve(shared: Arc<Shared>, stream: TcpStream, mut shutdown: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let mut ws = match accept_async(stream).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!("WebSocket handshake failed: {e}");
            return;
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn = shared.update(|s, _| s.open_connection(Instant::now(), tx));
    tracing::debug!(conn, "connection opened");

    let hello = tokio::time::sleep(shared.config.hello_delay);
    tokio::pin!(hello);
    let mut hello_sent = false;
    let mut silent = false;
    let flow = loop {
        if silent {
            // A zombie: only the client's end of the TCP connection ends it.
            tokio::select! {
                message = ws.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        shared.update(|s, _| s.on_text(conn, Instant::now(), &text));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break Flow::Continue,
                },
                command = rx.recv() => if command.is_none() { break Flow::Continue },
                _ = shutdown.changed() => break Flow::Drop,
            }
            continue;
        }
        let flow = tokio::select! {
            () = &mut hello, if !hello_sent => {
                hello_sent = true;
                shared.update(|s, _| s.hello(conn));
                Flow::Continue
            }
            message = ws.next() => match message {
                Some(Ok(message)) => on_message(&shared, conn, message),
                Some(Err(e)) => {
                    tracing::debug!(conn, "read error: {e}");
                    break Flow::Continue;
                }
                None => break Flow::Continue,
            },
            command = rx.recv() => match command {
                Some(Command::Zombie) => {
                    silent = true;
                    Flow::Continue
                }
                Some(command) => on_command(&mut ws, &mut rx, command).await,
                None => Flow::Continue,
            },
            _ = shutdown.changed() => Flow::Drop,
        };
        match flow {
            Flow::Continue => {}
            Flow::Zombie => silent = true,
            flow => break flow,
        }
    };
    match flow {
        Flow::Close(code) => {
            shared.update(|s, _| s.closed_by_server(conn, Some(code)));
            let frame = CloseFrame { code: code.into(), reason: CloseCode(code).description().into() };
            if ws.close(Some(frame)).await.is_ok() {
                // Read until the client answers the close frame (or gives up).
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    while let Some(Ok(message)) = ws.next().await {
                        if let Message::Close(frame) = message {
                            let code = frame.map(|f| u16::from(f.code));
                            shared.update(|s, _| s.closed_by_client(conn, code));
                        }
                    }
                })
                .await;
            }
        }
        Flow::Drop => {
            if !*shutdown.borrow() {
                shared.update(|s, _| s.closed_by_server(conn, None));
            }
        }
        Flow::Continue | Flow::Zombie => {}
    }
    drop(ws);
    shared.update(|s, _| s.connection_closed(conn, Instant::now()));
    tracing::debug!(conn, "connection closed");
}

/// A frame from the client: the model answers through the connection's channel.
fn on_message(shared: &Shared, conn: usize, message: Message) -> Flow {
    match message {
        Message::Text(text) => {
            shared.update(|s, _| s.on_text(conn, Instant::now(), &text));
            Flow::Continue
        }
        Message::Binary(bytes) => {
            shared.update(|s, _| s.binary_from_client(conn, Instant::now(), &bytes));
            Flow::Continue
        }
        Message::Close(frame) => {
            let code = frame.map(|f| u16::from(f.code));
            tracing::debug!(conn, ?code, "close frame from the client");
            shared.update(|s, _| s.closed_by_client(conn, code));
            // tungstenite answers the close frame; the stream then ends.
            Flow::Continue
        }
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Flow::Continue,
    }
}

/// Writes a command and up to [`BATCH`] commands already queued behind it, then flushes
/// once (and goes back to reading, so heartbeats are answered during bursts).
async fn on_command(ws: &mut Ws, rx: &mut mpsc::UnboundedReceiver<Command>, first: Command) -> Flow {
    let mut next = Some(first);
    let mut written = 0;
    while let Some(command) = next.take() {
        let message = match command {
            Command::Text(text) => Message::Text(text),
            Command::Binary(bytes) => Message::Binary(bytes.into()),
            Command::Close(code) => {
                if ws.flush().await.is_err() {
                    return Flow::Drop;
                }
                return Flow::Close(code);
            }
            Command::Drop => return Flow::Drop,
            Command::Zombie => {
                // Met inside a batch: what came before it is written, nothing after.
                return if ws.flush().await.is_err() { Flow::Drop } else { Flow::Zombie };
            }
        };
        if ws.feed(message).await.is_err() {
            return Flow::Drop;
        }
        written += 1;
        if written < BATCH {
            next = rx.try_recv().ok();
        }
    }
    if ws.flush().await.is_err() { Flow::Drop } else { Flow::Continue }
}
