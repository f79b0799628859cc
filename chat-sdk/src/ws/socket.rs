//! Opening one chat's socket: the upgrade request (`/ws/api/chat/{id}/?after_seq=N`, the
//! client's `Authorization`), its limits and timeout, TLS for `wss://`, and which refusals
//! of the upgrade are final.

use crate::client::Client;
use crate::error::{Error, Result};
use chatcore::model::ChatId;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// The largest frame the SDK accepts from the server (the server's own limit is 64 KiB).
const MAX_INCOMING_FRAME: usize = 1 << 20;
/// How long a WebSocket handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A chat's open socket.
pub(super) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Whether a failed connection attempt is the server's final word: a client error on the
/// upgrade (401, 403, 404…) except timeouts and rate limits, or an invalid request.
pub(super) fn is_final(e: &Error) -> bool {
    match e {
        Error::Api { status, .. } => (400..500).contains(status) && !matches!(status, 408 | 429),
        Error::Invalid(_) => true,
        _ => false,
    }
}

/// Opens the chat's socket, resuming after `after_seq`, with the client's credential.
pub(super) async fn open_socket(client: &Client, chat: ChatId, after_seq: i64) -> Result<Socket> {
    let url = client.routes().chat_socket(chat, Some(after_seq));
    let mut request = url.as_str().into_client_request()?;
    if let Some(value) = client.authorization() {
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value.clone());
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_INCOMING_FRAME))
        .max_frame_size(Some(MAX_INCOMING_FRAME));
    let connector = if url.scheme() == "wss" {
        Some(tls_connector()?)
    } else {
        None
    };
    let connecting =
        tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting).await {
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(Error::WebSocket(Box::new(tungstenite::Error::Io(
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "WebSocket handshake timed out",
            ),
        )))),
    }
}

/// The TLS setup for `wss://`: rustls with the aws-lc-rs provider (the one reqwest uses),
/// chosen explicitly so that no process-wide default provider is needed (and an
/// application that also compiles *ring* does not make the choice ambiguous), and the
/// system's root certificates. Built once.
fn tls_connector() -> Result<Connector> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(Connector::Rustls(Arc::clone(config)));
    }
    let loaded = rustls_native_certs::load_native_certs();
    for e in &loaded.errors {
        tracing::warn!(error = %e, "a system root certificate could not be loaded");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
    tracing::debug!(added, ignored, "system root certificates for wss://");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            Error::WebSocket(Box::new(tungstenite::Error::Tls(
                tungstenite::error::TlsError::Rustls(Box::new(e)),
            )))
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Connector::Rustls(Arc::clone(
        CONFIG.get_or_init(|| Arc::new(config)),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_client_errors_of_the_upgrade_stop_reconnecting() {
        let api = |status| {
            crate::error::api_error(status, &crate::answer_meta::AnswerMeta::default(), b"")
        };
        for status in [400, 401, 403, 404, 410] {
            assert!(is_final(&api(status)), "{status}");
        }
        for status in [408, 429, 500, 502, 503] {
            assert!(!is_final(&api(status)), "{status}");
        }
        let io = Error::WebSocket(Box::new(tungstenite::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        ))));
        assert!(!is_final(&io));
    }

    #[test]
    fn the_wss_connector_builds_without_a_process_wide_crypto_provider() {
        // No test installs a default provider, so this passing shows the SDK names its own.
        assert!(
            rustls::crypto::CryptoProvider::get_default().is_none(),
            "this test's premise: nothing in this binary installs a default provider"
        );
        let Connector::Rustls(config) = tls_connector().unwrap() else {
            panic!("wss:// uses rustls")
        };
        // Built once: the second call shares the configuration.
        let Connector::Rustls(again) = tls_connector().unwrap() else {
            panic!("wss:// uses rustls")
        };
        assert!(Arc::ptr_eq(&config, &again));
    }
}
