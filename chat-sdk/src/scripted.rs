//! A scripted HTTP peer for the unit tests: accepts one connection, reads one request and
//! answers it with what the test says, so the client is tested without a chat server.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the scripted peer read it.
#[derive(Debug)]
pub(crate) struct Request {
    /// The request line, e.g. `GET /api/chat/1/ HTTP/1.1`.
    pub(crate) line: String,
    /// The body (by `content-length`).
    pub(crate) body: Vec<u8>,
}

impl Request {
    /// The body as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

/// Reads one request (head, and body by `content-length`).
async fn read_request(tcp: &mut TcpStream) -> Request {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = tcp.read(&mut buf).await.expect("the request can be read");
        assert!(n > 0, "the client closed before its request ended");
        seen.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).into_owned();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value.trim().parse::<usize>().expect("a numeric length"))
        .unwrap_or(0);
    while seen.len() < head_end + length {
        let n = tcp.read(&mut buf).await.expect("the body can be read");
        assert!(n > 0, "the client closed before its body ended");
        seen.extend_from_slice(&buf[..n]);
    }
    Request {
        line: head.lines().next().unwrap_or_default().to_owned(),
        body: seen[head_end..head_end + length].to_vec(),
    }
}

/// Accepts one connection, reads one request and answers `status` (e.g. `200 OK`) with
/// `headers`, a `content-length` and `body`, then closes the connection.
pub(crate) async fn answer(
    listener: &TcpListener,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Request {
    let mut response = format!(
        "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    let mut bytes = response.into_bytes();
    bytes.extend_from_slice(body);
    answer_raw(listener, &bytes).await
}

/// Accepts one connection, reads one request and writes `response` as it is, then closes.
pub(crate) async fn answer_raw(listener: &TcpListener, response: &[u8]) -> Request {
    let (mut tcp, _) = listener.accept().await.expect("the client connects");
    let request = read_request(&mut tcp).await;
    // The client may hang up early (a body over its limit): that is its right.
    let _ = tcp.write_all(response).await;
    let _ = tcp.shutdown().await;
    request
}

/// Accepts one connection, reads one request and drops the connection without answering.
pub(crate) async fn hang_up(listener: &TcpListener) -> Request {
    let (mut tcp, _) = listener.accept().await.expect("the client connects");
    read_request(&mut tcp).await
}
