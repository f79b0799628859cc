//! The check `deploy/run-native.sh` runs against nginx in front of two chat-server nodes:
//! it passes if, and only if, a message crossed nodes.
//!
//! Everything goes through nginx, which names the node that answered each response in its
//! `X-Upstream` header (`deploy/nginx.conf`). A member of a new chat opens the chat's socket
//! through nginx; the header on the `101` says which node holds the socket and that nginx
//! carried the upgrade. The administrator then posts through nginx until a post is answered
//! by another node, and last posts once straight to another node, past nginx. The socket must
//! receive exactly the posted messages, in `seq` order, with no duplicate.
//!
//! Two details keep the proof honest. The socket is a raw WebSocket read frame by frame:
//! the SDK's `connect` fills a gap in `seq` from the history, so it would show a message the
//! socket's node never heard of. And the last message awaited in each round is one posted on
//! another node, because a node also fills a gap from the database when a later message of
//! its own arrives: only fan-out across nodes (Redis) can bring that last message.

use chat_sdk::model::{ChatId, Event, Message, NewChat, NewMessage, Registration};
use chat_sdk::{Client, ServerFrame};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite};

/// The header nginx adds to every response: the upstream that answered.
pub const UPSTREAM_HEADER: &str = "x-upstream";
/// Posts through nginx before the check looks for one answered by another node.
const MIN_POSTS: usize = 4;
/// Posts through nginx after which the check gives up finding another node.
const MAX_POSTS: usize = 20;
/// How long the socket may take to deliver a message that was stored.
const PATIENCE: Duration = Duration::from_secs(10);
/// How long the socket must stay quiet after the last message (a late duplicate shows here).
const QUIET: Duration = Duration::from_millis(500);

/// What is checked, and as whom.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// nginx, e.g. `http://127.0.0.1:8080`.
    pub proxy: String,
    /// The nodes behind it, as nginx names them in `X-Upstream` (`127.0.0.1:8001`).
    pub nodes: Vec<String>,
    /// An administrator's username…
    pub username: String,
    /// …and password.
    pub password: String,
}

/// What the check saw (it failed otherwise).
#[derive(Debug, Clone)]
pub struct Report {
    /// The node holding the socket.
    pub socket_node: String,
    /// Every message the socket received, in order: its `seq` and the node it was posted on.
    pub messages: Vec<(i64, String)>,
}

impl Report {
    /// How many of the messages were posted on a node other than the socket's.
    pub fn crossed(&self) -> usize {
        let socket_node = &self.socket_node;
        self.messages
            .iter()
            .filter(|(_, n)| n != socket_node)
            .count()
    }

    /// A few lines for a person.
    pub fn summary(&self) -> String {
        let mut by_node = BTreeMap::<&str, usize>::new();
        for (_, node) in &self.messages {
            *by_node.entry(node).or_default() += 1;
        }
        let mut out = format!(
            "the socket's upgrade went through nginx to {}\n",
            self.socket_node
        );
        for (node, count) in by_node {
            let _ = writeln!(out, "{count} message(s) posted on {node}");
        }
        let seqs: Vec<i64> = self.messages.iter().map(|(seq, _)| *seq).collect();
        let _ = write!(
            out,
            "the socket on {} received all {} in seq order ({seqs:?}), no duplicate; {} of them \
             crossed from another node",
            self.socket_node,
            self.messages.len(),
            self.crossed()
        );
        out
    }
}

/// Runs the check; the error says what went wrong, for a person reading CI's log.
pub async fn run(deployment: &Deployment) -> Result<Report, String> {
    let proxy = &deployment.proxy;
    let nodes = &deployment.nodes;
    let Scene {
        chat,
        admin_token,
        member_token,
    } = set_up(deployment).await?;

    let mut socket = LiveSocket::open(proxy, chat, &member_token).await?;
    let socket_node = socket.node.clone();
    known_node(nodes, &socket_node, "the socket's upgrade")?;
    let mut expected = Vec::new();

    // Round 1: through nginx until a post is answered by another node, which ends the round
    // (the last message awaited must come from another node: see the top of this file).
    let http = reqwest::Client::new();
    loop {
        let content = format!("through nginx #{}", expected.len() + 1);
        let (message, node) = post_through_proxy(&http, proxy, &admin_token, chat, &content)
            .await
            .map_err(|e| format!("posting through nginx: {e}"))?;
        known_node(nodes, &node, "a post")?;
        expected.push((message.seq, node.clone()));
        if expected.len() >= MIN_POSTS && node != socket_node {
            break;
        }
        if expected.len() == MAX_POSTS {
            return Err(format!(
                "nginx answered posts {MIN_POSTS} to {MAX_POSTS} from {socket_node}, the \
                 socket's node, every time: does its upstream list both nodes ({nodes:?})?"
            ));
        }
    }
    socket.expect(&expected).await?;

    // Round 2: straight to another node, past nginx.
    let other = nodes
        .iter()
        .find(|n| **n != socket_node)
        .ok_or_else(|| format!("no node besides {socket_node} in {nodes:?}"))?;
    let message = Client::new(&format!("http://{other}"))
        .and_then(|c| c.with_token(&admin_token))
        .map_err(|e| format!("a client of {other}: {e}"))?
        .post(chat, "straight to the other node")
        .await
        .map_err(|e| format!("posting straight to {other}: {e}"))?;
    expected.push((message.seq, other.clone()));
    socket.expect(&expected).await?;
    socket.expect_quiet().await?;

    Ok(Report {
        socket_node,
        messages: expected,
    })
}

/// A new chat whose member listens while the administrator posts.
struct Scene {
    chat: ChatId,
    admin_token: String,
    member_token: String,
}

/// Signs the administrator in, signs a member up (with a random password nobody needs) and
/// creates a chat of the two, all through nginx.
async fn set_up(deployment: &Deployment) -> Result<Scene, String> {
    let proxy = &deployment.proxy;
    let anonymous = Client::new(proxy).map_err(|e| format!("bad proxy URL {proxy}: {e}"))?;
    anonymous
        .health()
        .await
        .map_err(|e| format!("{proxy}/healthz through nginx: {e}"))?;
    let admin = anonymous
        .login(&deployment.username, &deployment.password)
        .await
        .map_err(|e| format!("signing in as {} through nginx: {e}", deployment.username))?;
    let admin_user = admin
        .me()
        .await
        .map_err(|e| format!("reading the administrator's account through nginx: {e}"))?;
    let suffix = format!("{:016x}", RandomState::new().hash_one(proxy));
    let (member, member_user) = anonymous
        .register(&Registration {
            username: format!("listener-{suffix}"),
            password: format!(
                "listen {:016x} {:016x}",
                RandomState::new().hash_one(1),
                RandomState::new().hash_one(2)
            ),
            ..Registration::default()
        })
        .await
        .map_err(|e| format!("signing a member up through nginx: {e}"))?;
    let chat = admin
        .create_chat(&NewChat {
            name: format!("deploy check {suffix}"),
            participants: vec![admin_user.user.id, member_user.id],
        })
        .await
        .map_err(|e| format!("creating a chat through nginx: {e}"))?;
    Ok(Scene {
        chat: chat.id,
        admin_token: token(&admin)?,
        member_token: token(&member)?,
    })
}

/// The client's token (a login or registration always gives one).
fn token(client: &Client) -> Result<String, String> {
    client
        .token()
        .map(str::to_owned)
        .ok_or_else(|| "the server signed in without a token".to_owned())
}

/// Fails unless `node` (from `X-Upstream`) is one of the deployment's nodes.
fn known_node(nodes: &[String], node: &str, what: &str) -> Result<(), String> {
    if nodes.iter().any(|n| n == node) {
        Ok(())
    } else {
        Err(format!(
            "{what} was answered by {node:?}, which is not one of the nodes {nodes:?}"
        ))
    }
}

/// The upstream that answered, from nginx's `X-Upstream`. When nginx tried several (a node
/// refused the connection), the header lists each, and the last one answered.
fn upstream(headers: &HeaderMap) -> Result<String, String> {
    let value = headers
        .get(UPSTREAM_HEADER)
        .ok_or("the response has no X-Upstream header: it did not come through nginx")?
        .to_str()
        .map_err(|_| "X-Upstream is not text")?;
    let last = value.rsplit(", ").next().unwrap_or(value).trim();
    Ok(last.to_owned())
}

/// `POST /api/chat/{id}/message/` through nginx, by hand rather than with the SDK, to read
/// the `X-Upstream` of the answer: the stored message and the node that stored it.
async fn post_through_proxy(
    http: &reqwest::Client,
    proxy: &str,
    token: &str,
    chat: ChatId,
    content: &str,
) -> Result<(Message, String), String> {
    let url = format!("{}/api/chat/{chat}/message/", proxy.trim_end_matches('/'));
    let response = http
        .post(&url)
        .header(AUTHORIZATION, format!("Token {token}"))
        .json(&NewMessage {
            content: content.to_owned(),
            client_id: None,
        })
        .timeout(PATIENCE)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let node = upstream(response.headers())?;
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(format!("{url} answered {status} from {node}: {body}"));
    }
    let message = response.json().await.map_err(|e| e.to_string())?;
    Ok((message, node))
}

/// A chat's socket opened through nginx, read frame by frame.
struct LiveSocket {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The node holding it, from the `X-Upstream` of the `101`.
    node: String,
    /// The `seq` of every message received so far, in order.
    received: Vec<i64>,
}

impl LiveSocket {
    /// Opens `/ws/api/chat/{chat}/` through nginx with the token on the upgrade.
    async fn open(proxy: &str, chat: ChatId, token: &str) -> Result<Self, String> {
        let url = format!("{}/ws/api/chat/{chat}/", proxy.trim_end_matches('/'))
            .replacen("http", "ws", 1);
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("bad socket URL {url}: {e}"))?;
        let authorization = HeaderValue::from_str(&format!("Token {token}"))
            .map_err(|_| "the token is not a header value")?;
        request.headers_mut().insert(AUTHORIZATION, authorization);
        let (socket, response) =
            tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request))
                .await
                .map_err(|_| format!("the upgrade of {url} took longer than {PATIENCE:?}"))?
                .map_err(|e| format!("the upgrade of {url} through nginx failed: {e}"))?;
        let node = upstream(response.headers()).map_err(|e| format!("the upgrade: {e}"))?;
        Ok(Self {
            socket,
            node,
            received: Vec::new(),
        })
    }

    /// Reads until the socket received the last of `expected`, then checks it received
    /// exactly those, in order, each once.
    async fn expect(&mut self, expected: &[(i64, String)]) -> Result<(), String> {
        let want: Vec<i64> = expected.iter().map(|(seq, _)| *seq).collect();
        let last = *want.last().ok_or("nothing to expect")?;
        while self.received.last() < Some(&last) {
            match tokio::time::timeout(PATIENCE, self.next_message()).await {
                Ok(received) => self.received.push(received?),
                Err(_) => {
                    let missing: Vec<(i64, String)> = expected
                        .iter()
                        .filter(|(seq, _)| !self.received.contains(seq))
                        .cloned()
                        .collect();
                    return Err(format!(
                        "the socket on {} did not receive {missing:?} (seq, node posted on) \
                         within {PATIENCE:?}; it received {:?}. Is every node started with \
                         the same --redis-url and --redis-prefix?",
                        self.node, self.received
                    ));
                }
            }
        }
        if self.received != want {
            return Err(format!(
                "the socket on {} received {:?}, not {want:?} (each once, in seq order)",
                self.node, self.received
            ));
        }
        Ok(())
    }

    /// Fails if another message arrives within [`QUIET`] (a duplicate, as nothing else is
    /// posted).
    async fn expect_quiet(&mut self) -> Result<(), String> {
        match tokio::time::timeout(QUIET, self.next_message()).await {
            Err(_) => Ok(()),
            Ok(Ok(seq)) => Err(format!(
                "the socket on {} received #{seq} again after {:?}",
                self.node, self.received
            )),
            Ok(Err(e)) => Err(e),
        }
    }

    /// The `seq` of the next message event; other events are skipped (pings are answered by
    /// the WebSocket library while reading).
    async fn next_message(&mut self) -> Result<i64, String> {
        loop {
            let frame = self
                .socket
                .next()
                .await
                .ok_or_else(|| format!("the socket on {} ended", self.node))?
                .map_err(|e| format!("the socket on {}: {e}", self.node))?;
            let text = match frame {
                tungstenite::Message::Text(text) => text,
                tungstenite::Message::Close(close) => {
                    return Err(format!("the socket on {} was closed: {close:?}", self.node));
                }
                _ => continue,
            };
            let parsed = ServerFrame::parse(&text)
                .map_err(|e| format!("a frame from {} that is not an event: {e}", self.node))?;
            match parsed {
                ServerFrame::Event(event) => {
                    if let Event::Message(message) = *event {
                        return Ok(message.message.seq);
                    }
                }
                ServerFrame::Error(refusal) => {
                    return Err(format!("the socket on {} said {refusal:?}", self.node));
                }
                ServerFrame::Ack(_) | ServerFrame::Unknown(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answering_upstream_is_the_last_one_nginx_tried() {
        let mut headers = HeaderMap::new();
        headers.insert(
            UPSTREAM_HEADER,
            HeaderValue::from_static("127.0.0.1:1, 127.0.0.1:2"),
        );
        assert_eq!(upstream(&headers).unwrap(), "127.0.0.1:2");
        headers.insert(UPSTREAM_HEADER, HeaderValue::from_static("127.0.0.1:3"));
        assert_eq!(upstream(&headers).unwrap(), "127.0.0.1:3");
        assert!(upstream(&HeaderMap::new()).is_err());
    }
}
