//! The Redis adapter of the [`Broker`] port, for several nodes sharing one database.
//!
//! Each node publishes every committed event once to the chat's channel
//! (`<prefix>events:<chat>`), its JSON as the broker got it, behind the node's id; it
//! delivers its own events to its local subscribers directly (so they do not depend on
//! Redis, and arrive once) and ignores them when Redis echoes them back. Other nodes' events
//! reach local subscribers through the [`LocalBroker`] half.
//!
//! One Redis connection per node listens: it subscribes to a chat's channel while the chat
//! has a local subscriber, and unsubscribes some seconds after the last one left. Another
//! connection publishes, a pipeline per batch of queued events. Redis pub/sub may lose
//! (a connection drops, a node was not subscribed yet); the store may not. So:
//! - whenever the listening connection has (re)subscribed to a chat, the chat's local
//!   subscriptions get [`Delivery::Resync`] and compare themselves with the store;
//! - a node whose publishing failed owes the affected chats a `resync` notice, which it
//!   publishes once Redis takes publishes again; the nodes serving those chats resync them.
//!
//! A change of a user's flags (deactivated, demoted, promoted) goes to every node on one
//! more channel, `<prefix>accounts` (payload `<node id> <user id>`), which each node's
//! listening connection is always subscribed to: the user's subscriptions, whatever their
//! chat, re-check their access. A notice that could not be published is owed like a
//! `resync`; one lost while a listener was away is covered by the resync that follows its
//! reconnection (a resync re-checks every viewer).
//!
//! Redis down at start is an error ([`RedisBroker::connect`]); down later, the node keeps
//! serving its local subscribers, logs, reconnects with backoff, and resyncs.

use super::{Broker, EventFrame, LocalBroker, Receiver, SharedEvent};
use crate::model::{ChatId, UserId};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSub, PubSubSink};
use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

/// The key prefix when none is configured.
pub const DEFAULT_PREFIX: &str = "chat:";

/// Longest wait for a connection to Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for Redis to answer a command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// First wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How often the listening connection drops chats nobody here follows any more, and pings.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Events queued for publishing; beyond it a chat is owed a `resync` notice instead.
const OUTBOX: usize = 16 * 1024;
/// Most events in one publishing pipeline.
const PUBLISH_BATCH: usize = 512;
/// Most channels in one SUBSCRIBE or UNSUBSCRIBE.
const CHANNELS_PER_COMMAND: usize = 512;
/// The payload of a `resync` notice (an event's payload is its JSON, which starts with `{`).
const RESYNC: &[u8] = b"resync";

/// Where the Redis broker connects, and the prefix of its channel names (nodes that talk to
/// each other use the same prefix; tests use their own, so they run side by side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://[user:password@]host[:port][/db]` (or `rediss://`).
    pub url: String,
    /// Prepended to every channel name; [`DEFAULT_PREFIX`] by default.
    pub prefix: String,
}

impl RedisSettings {
    /// Settings for `url` with the default prefix.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }

    /// The same settings with another prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// Why the Redis broker could not start. The URL in the text has its password hidden.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedisError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL {url}: {reason}")]
    InvalidUrl {
        /// The URL, password hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Redis did not answer (down, unreachable, refused the credentials, too slow).
    #[error("cannot connect to Redis at {url}: {reason}")]
    Unreachable {
        /// The URL, password hidden.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// Channel names and payloads: the node's wire format.
#[derive(Debug)]
struct Wire {
    /// This node's id, which heads every payload it publishes.
    node: [u8; 16],
    prefix: String,
}

/// What a payload read from Redis is.
enum Incoming<'a> {
    /// Published by this node.
    Own,
    /// Another node may have failed to publish events of the chat.
    Resync,
    /// Another node's event, as JSON.
    Event(&'a [u8]),
}

impl Wire {
    fn new(prefix: &str) -> Self {
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).expect("the OS random number generator is available");
        let mut node = [0u8; 16];
        node.copy_from_slice(hex::encode(id).as_bytes());
        Self {
            node,
            prefix: prefix.to_owned(),
        }
    }

    fn channel(&self, chat: ChatId) -> String {
        format!("{}events:{}", self.prefix, chat.0)
    }

    /// The channel of account changes, which every node follows.
    fn accounts_channel(&self) -> String {
        format!("{}accounts", self.prefix)
    }

    fn chat_of(&self, channel: &str) -> Option<ChatId> {
        let id = channel
            .strip_prefix(&self.prefix)?
            .strip_prefix("events:")?;
        id.parse().ok().map(ChatId)
    }

    /// `<node id> <body>`.
    fn payload(&self, body: &[u8]) -> Vec<u8> {
        let mut payload = Vec::with_capacity(self.node.len() + 1 + body.len());
        payload.extend_from_slice(&self.node);
        payload.push(b' ');
        payload.extend_from_slice(body);
        payload
    }

    fn read<'a>(&self, payload: &'a [u8]) -> Option<Incoming<'a>> {
        let (node, rest) = payload.split_at_checked(self.node.len())?;
        let body = rest.strip_prefix(b" ")?;
        Some(if node == self.node {
            Incoming::Own
        } else if body == RESYNC {
            Incoming::Resync
        } else {
            Incoming::Event(body)
        })
    }
}

/// Where a published payload goes: a chat's channel, or the accounts channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Target {
    Chat(ChatId),
    Account(UserId),
}

impl Target {
    /// The channel, and what is published there once publishing failed: a chat is owed a
    /// `resync` notice, an account notice is simply sent again.
    fn owed_notice(self, wire: &Wire) -> (String, Vec<u8>) {
        match self {
            Target::Chat(chat) => (wire.channel(chat), wire.payload(RESYNC)),
            Target::Account(user) => (
                wire.accounts_channel(),
                wire.payload(user.0.to_string().as_bytes()),
            ),
        }
    }
}

/// Something waiting to be published: an event's JSON for its chat's channel, or an
/// account notice.
struct Outgoing {
    target: Target,
    body: Bytes,
}

/// Fan-out between nodes through Redis pub/sub, with local delivery through a
/// [`LocalBroker`]. See the module documentation for how losses are repaired.
pub struct RedisBroker {
    local: Arc<LocalBroker>,
    /// Chats that just got their first local subscriber, for the listener to subscribe.
    wanted: mpsc::UnboundedSender<ChatId>,
    outbox: mpsc::Sender<Outgoing>,
    /// Chats whose events (and accounts whose notices) did not fit in the outbox (a `std`
    /// mutex, never held across `.await`).
    overflow: Arc<Mutex<HashSet<Target>>>,
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBroker").finish_non_exhaustive()
    }
}

impl RedisBroker {
    /// Connects to Redis (both connections, answering a `PING`) and starts the listening
    /// and publishing tasks; local subscribers may fall `capacity` events behind.
    ///
    /// # Errors
    /// [`RedisError`] when the URL is invalid or Redis does not answer: a node does not
    /// start without the Redis it was told to use.
    pub async fn connect(settings: &RedisSettings, capacity: usize) -> Result<Self, RedisError> {
        let shown = redact(&settings.url);
        let client =
            redis::Client::open(settings.url.as_str()).map_err(|e| RedisError::InvalidUrl {
                url: shown.clone(),
                reason: e.to_string(),
            })?;
        let unreachable = |reason: String| RedisError::Unreachable {
            url: shown.clone(),
            reason,
        };
        let mut publisher = connect_publisher(&client).await.map_err(&unreachable)?;
        redis::cmd("PING")
            .exec_async(&mut publisher)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let listener = connect_listener(&client).await.map_err(&unreachable)?;

        let wire = Arc::new(Wire::new(&settings.prefix));
        let local = Arc::new(LocalBroker::new(capacity));
        let stop = CancellationToken::new();
        let (wanted, wanted_rx) = mpsc::unbounded_channel();
        let (outbox, outbox_rx) = mpsc::channel(OUTBOX);
        let overflow = Arc::new(Mutex::new(HashSet::new()));
        let listen = tokio::spawn(listen(
            Link {
                client: client.clone(),
                wire: wire.clone(),
                stop: stop.clone(),
            },
            listener,
            local.clone(),
            wanted_rx,
        ));
        let publish = tokio::spawn(publish(
            Link {
                client,
                wire,
                stop: stop.clone(),
            },
            publisher,
            outbox_rx,
            overflow.clone(),
        ));
        tracing::info!(url = %shown, prefix = %settings.prefix, "fan-out through Redis");
        Ok(Self {
            local,
            wanted,
            outbox,
            overflow,
            stop,
            tasks: Mutex::new(vec![listen, publish]),
        })
    }
}

impl RedisBroker {
    /// Queues `outgoing` for Redis without waiting; when the outbox is full (or the
    /// publishing task gone) its target is owed a notice instead.
    fn queue(&self, outgoing: Outgoing) {
        if let Err(full_or_closed) = self.outbox.try_send(outgoing) {
            let target = match full_or_closed {
                mpsc::error::TrySendError::Full(o) | mpsc::error::TrySendError::Closed(o) => {
                    o.target
                }
            };
            self.overflow
                .lock()
                .expect("overflow mutex is never poisoned")
                .insert(target);
        }
    }
}

impl Drop for RedisBroker {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[async_trait]
impl Broker for RedisBroker {
    async fn publish(&self, event: SharedEvent) {
        let outgoing = Outgoing {
            target: Target::Chat(event.event().chat()),
            body: event.json().clone(),
        };
        self.local.deliver(event);
        // Never wait for Redis here: the writer publishes between commits.
        self.queue(outgoing);
    }

    async fn account_changed(&self, user: UserId) {
        self.local.account_changed(user);
        self.queue(Outgoing {
            target: Target::Account(user),
            body: Bytes::from(user.0.to_string()),
        });
    }

    fn subscribe(&self, chat: ChatId) -> Receiver {
        let (receiver, new) = self.local.subscribe_noting_new(chat);
        if new {
            // The listener subscribes (unless it still is) and then resyncs the chat, which
            // covers whatever is published before its subscription takes effect. An error
            // means the broker is stopping.
            let _ = self.wanted.send(chat);
        }
        receiver
    }

    async fn shutdown(&self) {
        self.stop.cancel();
        let tasks = std::mem::take(&mut *self.tasks.lock().expect("task mutex is never poisoned"));
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// What both tasks share: how to reconnect, the wire format, the stop signal.
struct Link {
    client: redis::Client,
    wire: Arc<Wire>,
    stop: CancellationToken,
}

async fn connect_publisher(client: &redis::Client) -> Result<MultiplexedConnection, String> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT));
    match timeout(
        CONNECT_TIMEOUT,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}

async fn connect_listener(client: &redis::Client) -> Result<PubSub, String> {
    match timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}

/// Exponential backoff between reconnection attempts.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(MIN_BACKOFF)
    }

    fn next(&mut self) -> Duration {
        let wait = self.0;
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
        wait
    }
}

/// Why a listening connection stopped being served.
enum Ended {
    Stopped,
    Lost(String),
}

/// The listening task: serves one connection at a time, reconnecting with backoff.
async fn listen(
    link: Link,
    first: PubSub,
    local: Arc<LocalBroker>,
    mut wanted: mpsc::UnboundedReceiver<ChatId>,
) {
    let mut connection = Some(first);
    let mut backoff = Backoff::new();
    loop {
        let pubsub = match connection.take() {
            Some(pubsub) => pubsub,
            None => {
                tokio::select! {
                    () = link.stop.cancelled() => return,
                    () = tokio::time::sleep(backoff.next()) => {}
                }
                match connect_listener(&link.client).await {
                    Ok(pubsub) => {
                        backoff = Backoff::new();
                        pubsub
                    }
                    Err(reason) => {
                        tracing::debug!(%reason, "Redis is still unreachable (listening)");
                        continue;
                    }
                }
            }
        };
        match serve_listener(&link, pubsub, &local, &mut wanted).await {
            Ended::Stopped => return,
            Ended::Lost(reason) => tracing::warn!(
                %reason,
                "lost the Redis listening connection: serving this node's subscribers only; \
                 reconnecting, then resyncing every chat served here from the store"
            ),
        }
    }
}

/// Subscribes to every chat served here, resyncs them, then relays messages until the
/// connection is lost or the broker stops.
async fn serve_listener(
    link: &Link,
    pubsub: PubSub,
    local: &LocalBroker,
    wanted: &mut mpsc::UnboundedReceiver<ChatId>,
) -> Ended {
    let (mut sink, mut stream) = pubsub.split();
    let mut subscribed: HashSet<ChatId> = HashSet::new();
    let served = local.served_chats();
    if let Err(reason) = subscribe_channels(&mut sink, vec![link.wire.accounts_channel()]).await {
        return Ended::Lost(reason);
    }
    if let Err(reason) = subscribe(&mut sink, &link.wire, &served).await {
        return Ended::Lost(reason);
    }
    subscribed.extend(served.iter().copied());
    // Whatever was published before these subscriptions took effect is in the store.
    for chat in &served {
        local.resync(*chat);
    }
    if !served.is_empty() {
        tracing::info!(
            chats = served.len(),
            "Redis listening connection (re)established; chats resynced from the store"
        );
    }
    let mut sweep = tokio::time::interval_at(Instant::now() + SWEEP_EVERY, SWEEP_EVERY);
    loop {
        tokio::select! {
            () = link.stop.cancelled() => return Ended::Stopped,
            message = stream.next() => match message {
                Some(message) => relay(&link.wire, local, &message),
                None => return Ended::Lost("the connection closed".into()),
            },
            chat = wanted.recv() => {
                let Some(chat) = chat else { return Ended::Stopped };
                if subscribed.insert(chat) {
                    if let Err(reason) = subscribe(&mut sink, &link.wire, &[chat]).await {
                        return Ended::Lost(reason);
                    }
                    local.resync(chat);
                }
            }
            _ = sweep.tick() => {
                let served: HashSet<ChatId> = local.served_chats().into_iter().collect();
                let gone: Vec<ChatId> = subscribed.difference(&served).copied().collect();
                if let Err(reason) = unsubscribe(&mut sink, &link.wire, &gone).await {
                    return Ended::Lost(reason);
                }
                subscribed.retain(|chat| served.contains(chat));
                // A connection that stopped answering without closing is lost too.
                match timeout(COMMAND_TIMEOUT, sink.ping::<()>()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Ended::Lost(e.to_string()),
                    Err(_) => return Ended::Lost("no answer to PING".into()),
                }
            }
        }
    }
}

async fn subscribe(sink: &mut PubSubSink, wire: &Wire, chats: &[ChatId]) -> Result<(), String> {
    for chunk in chats.chunks(CHANNELS_PER_COMMAND) {
        subscribe_channels(sink, chunk.iter().map(|c| wire.channel(*c)).collect()).await?;
    }
    Ok(())
}

async fn subscribe_channels(sink: &mut PubSubSink, channels: Vec<String>) -> Result<(), String> {
    match timeout(COMMAND_TIMEOUT, sink.subscribe(&channels)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer to SUBSCRIBE".into()),
    }
}

async fn unsubscribe(sink: &mut PubSubSink, wire: &Wire, chats: &[ChatId]) -> Result<(), String> {
    for chunk in chats.chunks(CHANNELS_PER_COMMAND) {
        let channels: Vec<String> = chunk.iter().map(|c| wire.channel(*c)).collect();
        match timeout(COMMAND_TIMEOUT, sink.unsubscribe(&channels)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("no answer to UNSUBSCRIBE".into()),
        }
    }
    Ok(())
}

/// Hands a message from Redis to the local subscribers of its chat (or, an account
/// notice, to every local subscription).
fn relay(wire: &Wire, local: &LocalBroker, message: &redis::Msg) {
    let channel = message.get_channel_name();
    if channel == wire.accounts_channel() {
        match wire.read(message.get_payload_bytes()) {
            Some(Incoming::Own) => {}
            Some(Incoming::Event(body)) => match std::str::from_utf8(body).map(str::parse) {
                Ok(Ok(user)) => local.account_changed(UserId(user)),
                _ => tracing::warn!(%channel, "ignoring an unreadable account notice"),
            },
            Some(Incoming::Resync) | None => {
                tracing::warn!(%channel, "ignoring an unreadable account notice");
            }
        }
        return;
    }
    let Some(chat) = wire.chat_of(channel) else {
        return;
    };
    match wire.read(message.get_payload_bytes()) {
        Some(Incoming::Own) => {}
        Some(Incoming::Resync) => local.resync(chat),
        Some(Incoming::Event(json)) => match EventFrame::from_json(Bytes::copy_from_slice(json)) {
            Ok(frame) if frame.event().chat() == chat => local.deliver(frame),
            Ok(_) => tracing::warn!(%channel, "ignoring another chat's event on this channel"),
            Err(e) => tracing::warn!(%channel, error = %e, "ignoring an unreadable event"),
        },
        None => tracing::warn!(%channel, "ignoring a payload without a node id"),
    }
}

/// The publishing task: a pipeline per batch of queued events, plus the `resync` notices
/// owed for chats whose events may not have gone out.
async fn publish(
    link: Link,
    first: MultiplexedConnection,
    mut outbox: mpsc::Receiver<Outgoing>,
    overflow: Arc<Mutex<HashSet<Target>>>,
) {
    let mut connection = Some(first);
    let mut batch: Vec<Outgoing> = Vec::with_capacity(PUBLISH_BATCH);
    // Chats owed a `resync` notice and account notices to send again (ordered, so a retry
    // sends them in the same order).
    let mut owed: BTreeSet<Target> = BTreeSet::new();
    let mut backoff = Backoff::new();
    let mut retry_at: Option<Instant> = None;
    loop {
        let mut last_round = false;
        tokio::select! {
            received = outbox.recv_many(&mut batch, PUBLISH_BATCH) => {
                if received == 0 {
                    return; // The broker is gone.
                }
            }
            () = sleep_until(retry_at), if retry_at.is_some() => {}
            () = link.stop.cancelled() => {
                // Hand on what is queued, once, then stop.
                outbox.close();
                while let Ok(outgoing) = outbox.try_recv() {
                    batch.push(outgoing);
                }
                last_round = true;
            }
        }
        owed.extend(
            overflow
                .lock()
                .expect("overflow mutex is never poisoned")
                .drain(),
        );
        if batch.is_empty() && owed.is_empty() {
            // Nothing to hand on (a reconnection waits for the next event).
            retry_at = None;
            if last_round {
                return;
            }
            continue;
        }
        let conn = match connection {
            Some(ref mut conn) => conn,
            None => {
                let too_early = retry_at.is_some_and(|at| Instant::now() < at);
                let reconnected = if too_early && !last_round {
                    None
                } else {
                    match connect_publisher(&link.client).await {
                        Ok(conn) => Some(conn),
                        Err(reason) => {
                            tracing::debug!(%reason, "Redis is still unreachable (publishing)");
                            None
                        }
                    }
                };
                let Some(conn) = reconnected else {
                    owed.extend(batch.drain(..).map(|o| o.target));
                    if !too_early {
                        retry_at = Some(Instant::now() + backoff.next());
                    }
                    if last_round {
                        return;
                    }
                    continue;
                };
                tracing::info!(owed = owed.len(), "publishing to Redis again");
                backoff = Backoff::new();
                retry_at = None;
                connection.insert(conn)
            }
        };
        let mut pipe = redis::pipe();
        for outgoing in &batch {
            let channel = match outgoing.target {
                Target::Chat(chat) => link.wire.channel(chat),
                Target::Account(_) => link.wire.accounts_channel(),
            };
            pipe.cmd("PUBLISH")
                .arg(channel)
                .arg(link.wire.payload(&outgoing.body))
                .ignore();
        }
        for target in &owed {
            let (channel, payload) = target.owed_notice(&link.wire);
            pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
        }
        let outcome = match timeout(COMMAND_TIMEOUT, pipe.exec_async(conn)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer to PUBLISH".to_owned()),
        };
        match outcome {
            Ok(()) => {
                owed.clear();
                batch.clear();
            }
            Err(reason) => {
                // Some of these may have gone out; the chats get a notice either way.
                owed.extend(batch.drain(..).map(|o| o.target));
                tracing::warn!(
                    %reason,
                    owed = owed.len(),
                    "publishing to Redis failed: other nodes will resync these chats from \
                     the store once it is back; reconnecting"
                );
                connection = None;
                retry_at = Some(Instant::now() + backoff.next());
            }
        }
        if last_round {
            return;
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The URL with its password replaced by `***`, for messages and logs.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_names_its_node_and_reads_back() {
        let a = Wire::new("p:");
        let b = Wire::new("p:");
        assert_ne!(a.node, b.node, "node ids are random");
        let event = a.payload(br#"{"type":"chat_deleted","chat":1,"at_seq":0}"#);
        assert!(matches!(a.read(&event), Some(Incoming::Own)));
        assert!(matches!(b.read(&event), Some(Incoming::Event(json)) if json.starts_with(b"{")));
        assert!(matches!(b.read(&a.payload(RESYNC)), Some(Incoming::Resync)));
        assert!(b.read(b"short").is_none());
    }

    #[test]
    fn a_channel_names_its_chat_under_the_prefix() {
        let wire = Wire::new("t_1:");
        assert_eq!(wire.channel(ChatId(42)), "t_1:events:42");
        assert_eq!(wire.chat_of("t_1:events:42"), Some(ChatId(42)));
        assert_eq!(wire.chat_of("other:events:42"), None);
        assert_eq!(wire.chat_of("t_1:events:x"), None);
        assert_eq!(wire.accounts_channel(), "t_1:accounts");
        assert_eq!(wire.chat_of("t_1:accounts"), None);
    }

    #[test]
    fn what_is_owed_after_a_failed_publish_goes_where_it_belongs() {
        let wire = Wire::new("p:");
        let (channel, payload) = Target::Chat(ChatId(7)).owed_notice(&wire);
        assert_eq!(channel, "p:events:7");
        assert!(matches!(
            Wire::new("p:").read(&payload),
            Some(Incoming::Resync)
        ));
        let (channel, payload) = Target::Account(UserId(42)).owed_notice(&wire);
        assert_eq!(channel, "p:accounts");
        assert!(matches!(
            Wire::new("p:").read(&payload),
            Some(Incoming::Event(b"42"))
        ));
    }

    #[test]
    fn a_url_shows_without_its_password() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://:secret@host:6379/0", "redis://:***@host:6379/0"),
            ("rediss://user:secret@host", "rediss://user:***@host"),
            ("redis://user@host", "redis://user@host"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact(url), shown);
        }
    }
}
