//! The load: N WebSockets on one chat, S of them also senders, either at a fixed total
//! rate or as fast as the sockets take the messages. Every socket checks what it receives:
//! by `seq` (each message exactly once, in order, none missing) and by content (each
//! sender's messages in the order sent). Latency is from the moment a sender hands the
//! frame to its socket (written into the content, relative to one shared start) until a
//! socket has parsed the `message` event.
//!
//! **Flow control.** A sender has at most `in_flight` messages out that have not yet
//! reached every socket; the socket that completes a message hands its sender the slot
//! back. "As fast as possible" is thus the rate at which the server delivers to all sockets,
//! not the rate at which it accepts frames (a sender that outran the slowest socket would
//! only measure the server's buffers, and then be closed as too slow).

use benches::{BoxError, Percentiles, Window};
use chatcore::model::ChatId;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message as Frame, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Where the sockets go.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) chat: ChatId,
    /// `Authorization: Token …` of socket i is `tokens[i % len]`; none for the baseline.
    pub(crate) tokens: Vec<String>,
}

/// What to send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    /// Senders (the first S sockets).
    pub(crate) senders: usize,
    /// Messages per second over all senders; `None`: as fast as the flow control allows.
    pub(crate) rate: Option<f64>,
    /// Before the measured window (sent and checked, not measured).
    pub(crate) warmup: Duration,
    /// The measured window.
    pub(crate) window: Duration,
    /// Messages one sender may have out that have not reached every socket.
    pub(crate) in_flight: usize,
    /// Each sender stops after this many messages (the smoke test), else at the window's end.
    pub(crate) per_sender: Option<u64>,
    /// Characters of each message's content.
    pub(crate) content_chars: usize,
    /// How long to wait after the last send for everything to arrive.
    pub(crate) drain: Duration,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    /// Sockets that received.
    pub(crate) sockets: u64,
    /// Messages acknowledged (stored, for the real server).
    pub(crate) acked: u64,
    /// `error` frames the senders got.
    pub(crate) errors: u64,
    /// Deliveries received within the measured window.
    pub(crate) deliveries: u64,
    /// Those per second.
    pub(crate) per_second: f64,
    /// Messages per second acknowledged within the measured window (every socket gets each).
    pub(crate) messages_per_second: f64,
    /// Delivery latency of the messages sent within the measured window.
    pub(crate) latency: Percentiles,
    /// Deliveries that never arrived: acknowledged messages × sockets − distinct received.
    pub(crate) lost: u64,
    /// Deliveries of a message a socket already had.
    pub(crate) duplicated: u64,
    /// Deliveries after a later `seq`, or after a later message of the same sender.
    pub(crate) reordered: u64,
    /// Sockets the server closed before the end (e.g. 4000, too slow).
    pub(crate) closed_early: u64,
}

impl Report {
    /// The checks in words: `lost 0, duplicated 0, reordered 0, errors 0, closed 0`.
    pub(crate) fn checks(&self) -> String {
        format!(
            "lost {}, duplicated {}, reordered {}, errors {}, closed {}",
            self.lost, self.duplicated, self.reordered, self.errors, self.closed_early
        )
    }

    /// The checks as the last cells of a table row (lost | duplicated | reordered | errors |
    /// closed early).
    pub(crate) fn check_cells(&self) -> String {
        format!(
            "{} | {} | {} | {} | {}",
            self.lost, self.duplicated, self.reordered, self.errors, self.closed_early
        )
    }

    /// No delivery lost, duplicated or reordered, no refusal, no socket closed early.
    pub(crate) fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.reordered == 0
            && self.errors == 0
            && self.closed_early == 0
    }
}

/// A connected socket, not yet read.
pub(crate) struct Connected {
    socket: Socket,
}

/// The client's frame and read-buffer limits: `read_buffer` bytes (small for idle
/// sockets, so that the load generator itself stays small).
fn client_config(read_buffer: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .max_message_size(Some(1 << 20))
}

/// Opens `n` sockets to `target`, `parallel` upgrades at a time.
pub(crate) async fn connect_all(
    target: &Target,
    n: usize,
    parallel: usize,
    read_buffer: usize,
) -> Result<Vec<Connected>, BoxError> {
    let gate = Arc::new(Semaphore::new(parallel.max(1)));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let target = target.clone();
            let gate = gate.clone();
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await?;
                connect(&target, i, read_buffer).await
            })
        })
        .collect();
    let mut sockets = Vec::with_capacity(n);
    for task in tasks {
        sockets.push(task.await??);
    }
    Ok(sockets)
}

async fn connect(target: &Target, i: usize, read_buffer: usize) -> Result<Connected, BoxError> {
    let url = format!("ws://{}/ws/api/chat/{}/", target.addr, target.chat);
    let mut request = url.into_client_request()?;
    if !target.tokens.is_empty() {
        let token = &target.tokens[i % target.tokens.len()];
        request.headers_mut().insert(
            http::header::AUTHORIZATION,
            format!("Token {token}").parse()?,
        );
    }
    let (socket, _) = tokio_tungstenite::connect_async_with_config(
        request,
        Some(client_config(read_buffer)),
        true,
    )
    .await
    .map_err(|e| format!("socket {i}: the upgrade failed: {e}"))?;
    Ok(Connected { socket })
}

/// The per-sender slots of the flow control: `counts[k % in_flight]` is how many sockets
/// have message k; the socket that makes it N gives the sender a permit back.
struct Flow {
    sockets: u32,
    in_flight: usize,
    counts: Vec<Vec<AtomicU32>>,
    permits: Vec<Arc<Semaphore>>,
}

impl Flow {
    fn new(sockets: usize, senders: usize, in_flight: usize) -> Self {
        Self {
            sockets: u32::try_from(sockets).expect("fewer than 4 billion sockets"),
            in_flight,
            counts: (0..senders)
                .map(|_| (0..in_flight).map(|_| AtomicU32::new(0)).collect())
                .collect(),
            permits: (0..senders)
                .map(|_| Arc::new(Semaphore::new(in_flight)))
                .collect(),
        }
    }

    /// One socket has message `k` of `sender`.
    fn delivered(&self, sender: usize, k: u64) {
        let slot = &self.counts[sender][(k % self.in_flight as u64) as usize];
        if slot.fetch_add(1, Ordering::AcqRel) + 1 == self.sockets {
            slot.store(0, Ordering::Release);
            self.permits[sender].add_permits(1);
        }
    }

    /// Message of `sender` that will never be delivered (refused): its slot is free.
    fn refused(&self, sender: usize) {
        self.permits[sender].add_permits(1);
    }

    /// Whether every sender has all its slots back (everything sent was delivered).
    fn drained(&self) -> bool {
        self.permits
            .iter()
            .all(|p| p.available_permits() >= self.in_flight)
    }
}

/// What one socket saw.
#[derive(Default)]
struct SocketLog {
    /// Bit `seq - 1` is set once `seq` arrived.
    seen: Vec<u64>,
    distinct: u64,
    last_seq: i64,
    /// The last `k` received from each sender.
    last_k: Vec<Option<u64>>,
    duplicated: u64,
    reordered: u64,
    in_window: u64,
    latencies: Vec<Duration>,
    /// Senders only: acks (the highest acknowledged `seq` too) and refusals.
    acked: u64,
    acked_in_window: u64,
    errors: u64,
    closed_early: bool,
}

impl SocketLog {
    /// Marks `seq`; whether it was new.
    fn mark(&mut self, seq: i64) -> bool {
        let Ok(bit) = usize::try_from(seq - 1) else {
            return true;
        };
        let (word, mask) = (bit / 64, 1_u64 << (bit % 64));
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        let new = self.seen[word] & mask == 0;
        self.seen[word] |= mask;
        new
    }
}

/// The fields of a server frame the load needs (the rest is skipped).
#[derive(serde::Deserialize)]
struct ServerFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default)]
    seq: Option<i64>,
    #[serde(default, borrow)]
    content: Option<&'a str>,
}

/// The content of message `k` of `sender`, sent `sent_us` after the start, padded to
/// `chars` characters.
fn content(sender: usize, k: u64, sent_us: u64, chars: usize) -> String {
    let mut text = format!("{sender} {k} {sent_us}");
    if text.len() >= chars {
        return text;
    }
    while text.len() < chars {
        text.push_str(" the quick brown fox jumps over the lazy dog");
    }
    text.truncate(chars);
    // The server trims content: no space at the end.
    if text.ends_with(' ') {
        text.pop();
        text.push('.');
    }
    text
}

/// The sender, `k` and send time (µs after the start) in a message's content.
fn parse_content(content: &str) -> Option<(usize, u64, u64)> {
    let mut parts = content.split(' ');
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    ))
}

/// Sends `load` through `sockets` (the first `load.senders` of them send; all receive),
/// waits until everything sent has arrived (or `load.drain` passed), closes the sockets and
/// reports.
pub(crate) async fn drive(sockets: Vec<Connected>, load: Load) -> Result<Report, BoxError> {
    let n = sockets.len();
    assert!(load.senders <= n, "more senders than sockets");
    let flow = Arc::new(Flow::new(n, load.senders, load.in_flight.max(1)));
    let window = Window::new(load.warmup, load.window);
    let origin = window.start;
    let stop = CancellationToken::new();
    let finished = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::with_capacity(n);
    let mut writers = Vec::with_capacity(load.senders);
    for (i, connected) in sockets.into_iter().enumerate() {
        let (sink, stream) = connected.socket.split();
        let sender = (i < load.senders).then_some(i);
        let (reader_sink, writer_sink) = match sender {
            Some(_) => (None, Some(sink)),
            None => (Some(sink), None),
        };
        readers.push(tokio::spawn(read_loop(
            stream,
            reader_sink,
            sender,
            load.senders,
            flow.clone(),
            window,
            stop.clone(),
        )));
        if let (Some(s), Some(sink)) = (sender, writer_sink) {
            writers.push(tokio::spawn(send_loop(
                sink,
                s,
                load,
                flow.clone(),
                window,
                origin,
                stop.clone(),
                finished.clone(),
            )));
        }
    }
    // The senders stop at the window's end (or after `per_sender` messages), then wait
    // for `stop` to close their sockets.
    while finished.load(Ordering::Acquire) < load.senders
        && Instant::now() < window.until + load.drain
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drain_until = Instant::now() + load.drain;
    while !flow.drained() && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.cancel();
    let mut logs = Vec::with_capacity(n);
    for reader in readers {
        logs.push(reader.await?);
    }
    for writer in writers {
        writer.await??;
    }
    Ok(report(logs, load))
}

/// Adds up the sockets' logs.
fn report(logs: Vec<SocketLog>, load: Load) -> Report {
    let acked: u64 = logs.iter().map(|l| l.acked).sum();
    let acked_in_window: u64 = logs.iter().map(|l| l.acked_in_window).sum();
    let secs = load.window.as_secs_f64().max(f64::EPSILON);
    let mut latencies = Vec::new();
    let mut out = Report {
        sockets: logs.len() as u64,
        acked,
        messages_per_second: acked_in_window as f64 / secs,
        ..Report::default()
    };
    for log in logs {
        out.errors += log.errors;
        out.deliveries += log.in_window;
        out.lost += acked.saturating_sub(log.distinct);
        out.duplicated += log.duplicated;
        out.reordered += log.reordered;
        out.closed_early += u64::from(log.closed_early);
        latencies.extend(log.latencies);
    }
    out.per_second = out.deliveries as f64 / secs;
    out.latency = Percentiles::of(&mut latencies);
    out
}

/// One sender: messages at the fixed rate (an open loop: each due at its slot in the
/// schedule, whatever the answers) or as fast as the flow control gives permits, until the
/// window ends; then waits for `stop` and closes the socket.
#[allow(clippy::too_many_arguments)]
async fn send_loop(
    mut sink: SplitSink<Socket, Frame>,
    sender: usize,
    load: Load,
    flow: Arc<Flow>,
    window: Window,
    origin: Instant,
    stop: CancellationToken,
    finished: Arc<AtomicUsize>,
) -> Result<(), BoxError> {
    let permits = flow.permits[sender].clone();
    // Senders of a fixed rate are spread evenly over one period.
    let period = load
        .rate
        .map(|r| Duration::from_secs_f64(load.senders as f64 / r));
    let offset = period.map_or(Duration::ZERO, |p| p * sender as u32 / load.senders as u32);
    tokio::time::sleep_until(origin.into()).await;
    let mut k = 0_u64;
    loop {
        if load.per_sender.is_some_and(|max| k >= max) {
            break;
        }
        let due = match period {
            Some(p) => origin + offset + p * u32::try_from(k)?,
            None => Instant::now(),
        };
        if due >= window.until {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let permit = tokio::select! {
            permit = permits.acquire() => permit?,
            () = tokio::time::sleep_until(window.until.into()) => break,
        };
        permit.forget();
        // Timed from here, when the frame goes to the socket: the client's own timer
        // jitter (a wake-up up to a millisecond after `due`) is not the server's latency.
        let sent_us = u64::try_from((Instant::now() - origin).as_micros())?;
        let frame = serde_json::json!({
            "type": "send",
            "content": content(sender, k, sent_us, load.content_chars),
            "client_id": format!("{sender}-{k}"),
        });
        if sink
            .send(Frame::Text(frame.to_string().into()))
            .await
            .is_err()
        {
            // The server closed the socket; its reader counts that.
            break;
        }
        k += 1;
    }
    finished.fetch_add(1, Ordering::Release);
    stop.cancelled().await;
    close(&mut sink).await;
    Ok(())
}

/// Sends a normal close frame and gives up after a second (the server may be gone).
async fn close(sink: &mut SplitSink<Socket, Frame>) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = sink.send(Frame::Close(None)).await;
        let _ = sink.close().await;
    })
    .await;
}

/// One socket's receiving side: checks and times every `message`, counts a sender's acks
/// and refusals, until `stop` (then closes the socket, if it holds the sending half).
async fn read_loop(
    mut stream: SplitStream<Socket>,
    mut sink: Option<SplitSink<Socket, Frame>>,
    sender: Option<usize>,
    senders: usize,
    flow: Arc<Flow>,
    window: Window,
    stop: CancellationToken,
) -> SocketLog {
    let origin = window.start;
    let mut log = SocketLog {
        last_k: vec![None; senders],
        ..SocketLog::default()
    };
    loop {
        let frame = tokio::select! {
            biased;
            frame = stream.next() => frame,
            () = stop.cancelled() => break,
        };
        let text: Utf8Bytes = match frame {
            Some(Ok(Frame::Text(text))) => text,
            Some(Ok(Frame::Close(_)) | Err(_)) | None if stop.is_cancelled() => break,
            Some(Ok(Frame::Close(frame))) => {
                log.closed_early = true;
                eprintln!(
                    "a socket was closed by the server: {}",
                    frame.map_or("no close frame".to_owned(), |f| format!(
                        "{} {}",
                        f.code, f.reason
                    ))
                );
                break;
            }
            Some(Err(_)) | None => {
                log.closed_early = true;
                eprintln!("a socket's connection ended without a close frame");
                break;
            }
            Some(Ok(_)) => continue,
        };
        let now = Instant::now();
        let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else {
            log.errors += 1;
            continue;
        };
        match (frame.kind, frame.seq, frame.content) {
            ("message", Some(seq), Some(content)) => {
                let new = log.mark(seq);
                let Some((from, k, sent_us)) = parse_content(content) else {
                    continue; // Not this run's message.
                };
                if !new {
                    log.duplicated += 1;
                    continue;
                }
                log.distinct += 1;
                let behind_k = log
                    .last_k
                    .get(from)
                    .copied()
                    .flatten()
                    .is_some_and(|last| k <= last);
                if seq < log.last_seq || behind_k {
                    log.reordered += 1;
                }
                log.last_seq = log.last_seq.max(seq);
                if let Some(last) = log.last_k.get_mut(from) {
                    *last = Some(last.map_or(k, |l| l.max(k)));
                }
                let sent = origin + Duration::from_micros(sent_us);
                if window.measures(sent) && sent < window.until {
                    log.latencies.push(now.saturating_duration_since(sent));
                }
                if window.measures(now) && now < window.until {
                    log.in_window += 1;
                }
                if from < senders {
                    flow.delivered(from, k);
                }
            }
            ("ack", _, _) => {
                log.acked += 1;
                if window.measures(now) && now < window.until {
                    log.acked_in_window += 1;
                }
            }
            ("error", _, _) => {
                log.errors += 1;
                if log.errors == 1 {
                    eprintln!("socket got an error frame: {text}");
                }
                if let Some(s) = sender {
                    flow.refused(s);
                }
            }
            _ => {}
        }
    }
    if let Some(sink) = &mut sink {
        close(sink).await;
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_carries_sender_number_and_send_time_at_the_asked_length() {
        let text = content(3, 17, 123_456, 100);
        assert_eq!(text.chars().count(), 100);
        assert_eq!(parse_content(&text), Some((3, 17, 123_456)));
        let short = content(3, 17, 123_456, 5);
        assert_eq!(parse_content(&short), Some((3, 17, 123_456)));
    }

    #[test]
    fn a_socket_log_tells_new_seqs_from_repeated_ones() {
        let mut log = SocketLog::default();
        assert!(log.mark(1));
        assert!(log.mark(200));
        assert!(!log.mark(1));
        assert!(!log.mark(200));
        assert!(log.mark(64));
    }
}
