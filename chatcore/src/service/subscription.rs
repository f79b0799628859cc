//! A live subscription to one chat: the stored backlog, then live events, with no gap and
//! no duplicate. It tracks the last `seq` it has taken in (queued or delivered): a live
//! message at or below it is dropped, the next one is delivered, a later one (or a
//! membership event whose `at_seq` is ahead) first reads the missing range from the store,
//! which has it because per-chat commit order is `seq` order. A range the store no longer
//! has means the chat was deleted: the stream ends with `chat_deleted` (a `chat_deleted`
//! itself is never held back). After a possible loss between nodes the broker sends
//! [`Delivery::Resync`]: the subscription then re-checks its viewer and the chat, and reads
//! up to the chat's `last_seq` in the store, so a lost message is found even when nothing
//! follows it. [`Delivery::AccountChanged`] of its viewer makes it re-check the viewer.

use crate::auth::Actor;
use crate::broker::{Delivery, EventFrame, Receiver, SharedEvent};
use crate::error::Result;
use crate::model::{ChatId, Event, PageRequest, RemovalReason};
use crate::store::Store;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// Messages read from the store per catch-up query.
const CATCH_UP_PAGE: u32 = 200;

/// The event stream of one chat for one actor. Call [`Subscription::next`] until `None`.
pub struct Subscription {
    store: Arc<dyn Store>,
    receiver: Receiver,
    viewer: Actor,
    /// Whether the viewer is an active admin, as last read from the store (a held
    /// [`Actor`] says what it was when authenticated).
    admin: bool,
    chat: ChatId,
    /// The last `seq` taken in: delivered, queued in `backlog`, or skipped as already
    /// known to the client.
    taken: i64,
    /// The last `seq` delivered: where the client resumes from.
    delivered: i64,
    /// Deliver stored messages up to this `seq` before anything live.
    catch_up_to: i64,
    backlog: VecDeque<SharedEvent>,
    /// A live event waiting for the catch-up before it.
    held: Option<SharedEvent>,
    ended: bool,
}

enum Admission {
    Deliver,
    Skip,
    CatchUpTo(i64),
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("chat", &self.chat)
            .field("viewer", &self.viewer.id())
            .field("taken", &self.taken)
            .field("delivered", &self.delivered)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(super) fn new(
        store: Arc<dyn Store>,
        receiver: Receiver,
        viewer: Actor,
        admin: bool,
        chat: ChatId,
        after_seq: i64,
        chat_last_seq: i64,
    ) -> Self {
        Self {
            store,
            receiver,
            viewer,
            admin,
            chat,
            taken: after_seq,
            delivered: after_seq,
            catch_up_to: chat_last_seq,
            backlog: VecDeque::new(),
            held: None,
            ended: false,
        }
    }

    /// The chat this subscription follows.
    pub fn chat(&self) -> ChatId {
        self.chat
    }

    /// The `seq` of the last message [`Subscription::next`] returned (or the `after_seq`
    /// it started from): where a client resumes from (`after_seq`).
    pub fn last_seq(&self) -> i64 {
        self.delivered
    }

    /// The next event; `None` once the stream has ended (after `lagged`, or an event that
    /// [ends the viewer's stream](Event::ends_stream_of)), or on a store failure, which is
    /// logged.
    pub async fn next(&mut self) -> Option<SharedEvent> {
        match self.try_next().await {
            Ok(event) => {
                if let Some(seq) = event.as_ref().and_then(|e| e.event().seq()) {
                    self.delivered = seq;
                }
                event
            }
            Err(_) => {
                self.ended = true;
                None
            }
        }
    }

    async fn try_next(&mut self) -> Result<Option<SharedEvent>> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                return Ok(Some(event));
            }
            if self.ended {
                return Ok(None);
            }
            if self.catch_up_to > self.taken {
                self.read_backlog().await?;
                continue;
            }
            let event = match self.held.take() {
                Some(event) => event,
                None => match self.receiver.recv().await {
                    Ok(Delivery::Event(event)) => event,
                    Ok(Delivery::Resync) => {
                        self.resync().await?;
                        continue;
                    }
                    Ok(Delivery::AccountChanged(user)) => {
                        if user == self.viewer.id() {
                            self.recheck_viewer().await?;
                        }
                        continue;
                    }
                    Err(RecvError::Lagged(_)) => {
                        self.ended = true;
                        return Ok(Some(EventFrame::new(Event::Lagged {
                            chat: self.chat,
                            last_seq: self.delivered,
                        })));
                    }
                    Err(RecvError::Closed) => return Ok(None),
                },
            };
            match self.admit(&event) {
                Admission::Skip => continue,
                Admission::CatchUpTo(seq) => {
                    self.catch_up_to = seq;
                    self.held = Some(event);
                }
                Admission::Deliver => return Ok(Some(event)),
            }
        }
    }

    fn admit(&mut self, frame: &SharedEvent) -> Admission {
        match frame.event() {
            Event::Message(m) => {
                let seq = m.message.seq;
                if seq <= self.taken {
                    Admission::Skip
                } else if seq == self.taken + 1 {
                    self.taken = seq;
                    Admission::Deliver
                } else {
                    Admission::CatchUpTo(seq - 1)
                }
            }
            // A membership or chat event comes after the messages up to its `at_seq`; not a
            // deletion, whose messages are gone with the chat.
            Event::MemberAdded { at_seq, .. }
            | Event::ChatRenamed { at_seq, .. }
            | Event::MemberRemoved { at_seq, .. }
                if *at_seq > self.taken =>
            {
                Admission::CatchUpTo(*at_seq)
            }
            // Another member's read marker is none of this viewer's business.
            event if !event.reaches(self.viewer.id()) => Admission::Skip,
            event => {
                let (viewer, admin) = (self.viewer.id(), self.admin);
                if let Some(end) = event.ends_stream_of(viewer, admin) {
                    tracing::debug!(chat = %self.chat, %viewer, %end, "the stream ends");
                    self.ended = true;
                }
                Admission::Deliver
            }
        }
    }

    /// After a possible loss ([`Delivery::Resync`]): ends the stream when the chat is gone or
    /// the viewer may no longer read it (removed, deactivated, demoted while not a member),
    /// else aims the catch-up at the chat's `last_seq` in the store. Events that only live
    /// streams carry (another member added, a rename) cannot be replayed from the store.
    async fn resync(&mut self) -> Result<()> {
        let Some(chat) = self.store.chat(self.chat).await? else {
            self.end_with_deletion();
            return Ok(());
        };
        if self.recheck_viewer().await? {
            self.catch_up_to = self.catch_up_to.max(chat.last_seq);
        }
        Ok(())
    }

    /// Re-reads the viewer's account: ends the stream (and says `false`) when they may no
    /// longer read the chat (deactivated, or neither an admin nor a member any more); else
    /// keeps their admin flag up to date.
    async fn recheck_viewer(&mut self) -> Result<bool> {
        let viewer = self.store.user_by_id(self.viewer.id()).await?;
        let removed = match &viewer {
            Some(user) if !user.is_active => Some(RemovalReason::Deactivated),
            // Admins may read every chat.
            Some(user) if user.is_admin => None,
            Some(_) if self.store.is_member(self.chat, self.viewer.id()).await? => None,
            Some(_) => Some(RemovalReason::Removed),
            None => Some(RemovalReason::Deactivated),
        };
        let Some(reason) = removed else {
            self.admin = viewer.is_some_and(|v| v.is_admin);
            return Ok(true);
        };
        let user = viewer.map_or_else(|| self.viewer.user().clone(), |v| v.user());
        self.end_with(Event::MemberRemoved {
            chat: self.chat,
            user: user.hidden(),
            reason,
            at_seq: self.taken,
        });
        Ok(false)
    }

    /// Ends the stream with `chat_deleted`, dropping what waited for a catch-up.
    fn end_with_deletion(&mut self) {
        self.held = None;
        self.catch_up_to = self.taken;
        self.end_with(Event::ChatDeleted {
            chat: self.chat,
            at_seq: self.taken,
        });
    }

    /// Queues `event` as the stream's last.
    fn end_with(&mut self, event: Event) {
        self.backlog.push_back(EventFrame::new(event));
        self.ended = true;
    }

    async fn read_backlog(&mut self) -> Result<()> {
        let page = PageRequest::after(self.taken, CATCH_UP_PAGE)?;
        let messages = self.store.history(self.chat, page).await?;
        let mut progressed = false;
        for message in messages {
            if message.seq != self.taken + 1 || message.seq > self.catch_up_to {
                break;
            }
            self.taken = message.seq;
            progressed = true;
            self.backlog
                .push_back(EventFrame::new(Event::message(message)));
        }
        if !progressed {
            // Committed messages are missing: the chat is gone with them. Waiting for them
            // would read the same nothing forever.
            if self.store.chat(self.chat).await?.is_none() {
                self.end_with_deletion();
            } else {
                tracing::error!(
                    chat = %self.chat, after = self.taken, to = self.catch_up_to,
                    "committed messages are missing from the store; ending the stream"
                );
                return Err(crate::error::Error::Internal);
            }
        }
        Ok(())
    }
}
