//! The group-commit writer: posts queue here and a writer task stores whatever is waiting
//! (up to `max_batch`) in one transaction, then publishes each new message and answers its
//! sender. SQLite has one writer; PostgreSQL has several, sharded by chat id, so every
//! chat's messages still commit and publish in `seq` order.

use crate::broker::{Broker, EventFrame};
use crate::config::MAX_BATCH_LIMIT;
use crate::error::{Error, Result};
use crate::metrics::{WRITER_BATCH_SIZE, WRITER_COMMIT_SECONDS, WRITER_POST_SECONDS};
use crate::model::{Event, timestamp};
use crate::store::{PendingMessage, Store, StoredMessage};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

struct Job {
    item: PendingMessage,
    /// When the post entered the queue.
    queued: Instant,
    reply: oneshot::Sender<Result<StoredMessage>>,
}

/// Handle to the writer tasks. The `std` mutexes are never held across `.await`.
pub struct Writer {
    /// One queue per shard; emptied by [`Writer::shutdown`], after which posts are refused.
    shards: Mutex<Vec<mpsc::Sender<Job>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn unavailable() -> Error {
    Error::Unavailable {
        retry_after: std::time::Duration::from_secs(1),
    }
}

impl Writer {
    /// Starts `shards` writer tasks storing up to `max_batch` messages per transaction
    /// (clamped to 1..=[`MAX_BATCH_LIMIT`]).
    pub fn start(
        store: Arc<dyn Store>,
        broker: Arc<dyn Broker>,
        shards: usize,
        max_batch: usize,
    ) -> Self {
        let max_batch = max_batch.clamp(1, MAX_BATCH_LIMIT);
        let (senders, tasks) = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(max_batch * 4);
                let task = tokio::spawn(run(rx, store.clone(), broker.clone(), max_batch));
                (tx, task)
            })
            .unzip();
        Self {
            shards: Mutex::new(senders),
            tasks: Mutex::new(tasks),
        }
    }

    /// Queues a message and waits until it is committed (or rejected). After
    /// [`Writer::shutdown`] every post is `Unavailable`.
    pub async fn submit(&self, item: PendingMessage) -> Result<StoredMessage> {
        self.enqueue(item).await?.await
    }

    /// Queues a message (in the order of calls, for one chat) and returns a future of its
    /// commit, so a caller can queue the next one before this one is stored.
    pub async fn enqueue(
        &self,
        item: PendingMessage,
    ) -> Result<impl Future<Output = Result<StoredMessage>> + Send + 'static> {
        let queue = {
            let shards = self.shards.lock().expect("writer mutex is never poisoned");
            if shards.is_empty() {
                return Err(unavailable());
            }
            shards[item.chat.0.rem_euclid(shards.len() as i64) as usize].clone()
        };
        let (reply, answer) = oneshot::channel();
        queue
            .send(Job {
                item,
                queued: Instant::now(),
                reply,
            })
            .await
            .map_err(|_| unavailable())?;
        Ok(async move {
            answer
                .await
                .map_err(|_| Error::internal("writer", "writer task ended"))?
        })
    }

    /// Stops accepting posts and waits until everything already queued is stored (posts in
    /// the middle of queueing still get in and are answered).
    pub async fn shutdown(&self) {
        drop(std::mem::take(
            &mut *self.shards.lock().expect("writer mutex is never poisoned"),
        ));
        let tasks =
            std::mem::take(&mut *self.tasks.lock().expect("writer mutex is never poisoned"));
        for task in tasks {
            let _ = task.await;
        }
    }
}

async fn run(
    mut rx: mpsc::Receiver<Job>,
    store: Arc<dyn Store>,
    broker: Arc<dyn Broker>,
    max_batch: usize,
) {
    let mut jobs = Vec::with_capacity(max_batch);
    // Takes whatever is queued, waiting only when nothing is (no linger timer).
    while rx.recv_many(&mut jobs, max_batch).await > 0 {
        let (items, replies): (Vec<_>, Vec<_>) = jobs
            .drain(..)
            .map(|j| (j.item, (j.reply, j.queued)))
            .unzip();
        // A bug panicking inside the store fails this batch (each sender gets `Internal`)
        // instead of killing the writer; the transaction is rolled back as it unwinds. The
        // batch runs in this task: a task of its own would add a hand-off per batch.
        metrics::histogram!(WRITER_BATCH_SIZE).record(items.len() as f64);
        let started = Instant::now();
        let outcome = AssertUnwindSafe(store.store_messages(&items, timestamp::now()))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(Error::internal("writer batch", "the store panicked")));
        metrics::histogram!(WRITER_COMMIT_SECONDS).record(started.elapsed());
        match outcome {
            Ok(results) => {
                for (result, (reply, queued)) in results.into_iter().zip(replies) {
                    if let Ok(stored) = &result
                        && stored.created
                    {
                        let event = Event::message(stored.message.clone());
                        broker.publish(EventFrame::new(event)).await;
                        metrics::histogram!(WRITER_POST_SECONDS).record(queued.elapsed());
                    }
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                for (reply, _) in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
