//! [`CachedStore`]: the caching decorator of the [`Store`] port. It keeps what every
//! request reads (the account behind a token, a user's standing towards a chat, a chat's
//! newest messages) and answers from memory what the store would answer. The services do
//! not know it is there.
//!
//! **Why it is never stale.** Before every answer it reads the store's
//! [`CacheStamp`]: a change counter that the database itself bumps (triggers, in the same
//! transaction) on every change that can make a cached answer wrong — a token deleted, an
//! account changed, a membership added or removed, a chat renamed or deleted, a message
//! changed or deleted by hand — and the chat's `last_seq`. (Sessions are not cached.) A counter newer than the one the entries were read under
//! empties the cache; a `last_seq` beyond a chat's tail reads just the missing messages.
//! The changes may come from this process, another node, the CLI or an operator's SQL: a
//! revocation acts on the next request everywhere, and a message is in every node's pages
//! as soon as it is committed. On SQLite the stamp is read on the calling thread in
//! microseconds; on PostgreSQL it is one small query in place of the larger ones it saves.
//!
//! **What it keeps.** Only positive answers (an existing account, chat and standing): a
//! refusal goes to the store each time. Entries read under an older counter than one
//! already seen are not kept. Tails are contiguous in `seq` and at most
//! [`MAX_PAGE_LIMIT`] long; a page they do not cover (older history) comes from the store.
//! Maps are bounded (least recently used first out), tails by bytes
//! ([`CacheConfig`]).

use super::{
    CacheStamp, ChatFilter, ChatRecord, FlagsChange, MemberChange, NewUserRecord, PendingMessage,
    ReadUpdate, Standing, Store, StoredMessage, UserRecord,
};
use crate::auth::Actor;
use crate::config::CacheConfig;
use crate::error::Result;
use crate::metrics::{CACHE_FLUSHES, CACHE_HITS, CACHE_MISSES};
use crate::model::{Chat, ChatId, Cursor, MAX_PAGE_LIMIT, Message, PageLimit, PageRequest, UserId};
use async_trait::async_trait;
use lru::LruCache;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use time::OffsetDateTime;

/// The longest tail a chat keeps: the largest page.
const TAIL_LEN: i64 = MAX_PAGE_LIMIT as i64;

tokio::task_local! {
    /// The stamps one request has read ([`one_request`]).
    static REQUEST_STAMPS: RefCell<RequestStamps>;
}

/// Runs `request` as one request of a front end: the cache reads the database's change
/// counter (and each chat's `last_seq`) once for it instead of at every call — a REST
/// request that authenticates, checks its standing and reads a page reads twice (with the
/// token, then with the chat), not three times. Its
/// answers are those of the moment of that reading; the next request reads again. Wrap
/// each request, never a long-lived task (a WebSocket session reads at every call).
pub async fn one_request<F: Future>(request: F) -> F::Output {
    REQUEST_STAMPS
        .scope(RefCell::new(RequestStamps::default()), request)
        .await
}

/// What one request has read: the counter, and the chats' `last_seq`s read with it.
#[derive(Default)]
struct RequestStamps {
    epoch: Option<i64>,
    chats: Vec<(ChatId, Option<i64>)>,
}

impl RequestStamps {
    fn get(&self, chat: Option<ChatId>) -> Option<CacheStamp> {
        let epoch = self.epoch?;
        let last_seq = match chat {
            None => None,
            Some(chat) => self.chats.iter().find(|(c, _)| *c == chat)?.1,
        };
        Some(CacheStamp { epoch, last_seq })
    }

    fn put(&mut self, chat: Option<ChatId>, stamp: CacheStamp) {
        if self.epoch != Some(stamp.epoch) {
            self.chats.clear();
            self.epoch = Some(stamp.epoch);
        }
        if let Some(chat) = chat {
            self.chats.push((chat, stamp.last_seq));
        }
    }
}

/// The caching decorator: wraps any [`Store`] whose [`Store::cache_stamp`] answers (one that
/// does not is passed through untouched).
pub struct CachedStore {
    inner: Arc<dyn Store>,
    state: Mutex<State>,
}

/// The cached entries, all read under one change counter.
struct State {
    /// The change counter the entries were read under (`None` before the first stamp).
    epoch: Option<i64>,
    /// Token hash → its account.
    tokens: LruCache<String, UserRecord>,
    /// (user, chat) → the standing (the chat's `last_seq` is taken from each stamp).
    standings: LruCache<(UserId, ChatId), Standing>,
    /// Chat → its newest messages.
    tails: LruCache<ChatId, Tail>,
    /// Bytes the tails hold (estimated), and the most they may.
    tail_bytes: usize,
    max_tail_bytes: usize,
}

/// A chat's newest messages: every message with `seq` in `(from, from + len]`, in order.
struct Tail {
    from: i64,
    messages: VecDeque<Entry>,
    bytes: usize,
}

/// A message as a tail keeps it: with its JSON as the API sends it, serialized once, with
/// the author's address and without ([`Actor::view_of`]).
struct Entry {
    message: Message,
    full: Box<[u8]>,
    hidden: Box<[u8]>,
}

impl Entry {
    /// `None` if the message does not serialize (then no tail holds it: the store answers).
    fn new(message: Message) -> Option<Self> {
        let full = serde_json::to_vec(&message).ok()?.into_boxed_slice();
        let mut hidden = message.clone();
        hidden.user = hidden.user.hidden();
        let hidden = serde_json::to_vec(&hidden).ok()?.into_boxed_slice();
        Some(Self {
            message,
            full,
            hidden,
        })
    }

    /// What it costs in a tail, roughly.
    fn bytes(&self) -> usize {
        message_bytes(&self.message) + self.full.len() + self.hidden.len()
    }

    /// Its JSON as `viewer` may see it.
    fn json_for(&self, viewer: &Actor) -> &[u8] {
        match viewer.sees_address_of(self.message.user.id) {
            true => &self.full,
            false => &self.hidden,
        }
    }
}

impl CachedStore {
    /// Wraps `inner` with maps bounded by `config` (its `enabled` is the caller's business).
    pub fn new(inner: Arc<dyn Store>, config: &CacheConfig) -> Self {
        let entries = NonZeroUsize::new(config.entries).unwrap_or(NonZeroUsize::MIN);
        Self {
            inner,
            state: Mutex::new(State {
                epoch: None,
                tokens: LruCache::new(entries),
                standings: LruCache::new(entries),
                tails: LruCache::unbounded(),
                tail_bytes: 0,
                max_tail_bytes: config.tail_bytes,
            }),
        }
    }

    /// Bytes the message tails hold now (estimated as the budget counts them).
    pub fn tail_bytes(&self) -> usize {
        self.lock().tail_bytes
    }

    /// The stamp, or `None` when the store cannot give one (or failed to: the store's own
    /// answer will say what is wrong).
    async fn stamp(&self, chat: Option<ChatId>) -> Option<CacheStamp> {
        let read_before = REQUEST_STAMPS.try_with(|r| r.borrow().get(chat));
        if let Ok(Some(stamp)) = read_before {
            return Some(stamp);
        }
        match self.inner.cache_stamp(chat).await {
            Ok(Some(stamp)) => {
                let _outside_a_request =
                    REQUEST_STAMPS.try_with(|r| r.borrow_mut().put(chat, stamp));
                Some(stamp)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(error = %e, "no cache stamp: the store answers");
                None
            }
        }
    }

    /// Runs `f` on the entries if they may be used under `epoch`: a newer counter first
    /// empties them; an older one (a request that read its stamp before another saw the
    /// newer) gets `None` and goes to the store.
    fn under<R>(&self, epoch: i64, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        let mut state = self.lock();
        match state.epoch {
            Some(seen) if seen == epoch => {}
            Some(seen) if seen > epoch => return None,
            Some(_) => {
                state.clear();
                metrics::counter!(CACHE_FLUSHES).increment(1);
                state.epoch = Some(epoch);
            }
            None => state.epoch = Some(epoch),
        }
        Some(f(&mut state))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the maps consistent before anything that could panic.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a lookup of `cache`.
    fn count(cache: &'static str, hit: bool) {
        let name = if hit { CACHE_HITS } else { CACHE_MISSES };
        metrics::counter!(name, "cache" => cache).increment(1);
    }

    /// A page from the chat's tail, reading into the tail first what it lacks; `None`
    /// when the tail cannot answer (the store does).
    async fn page_from_tail<R>(
        &self,
        chat: ChatId,
        page: PageRequest,
        answer: impl FnOnce(&Tail, PageRequest) -> Option<R>,
    ) -> Result<Option<R>> {
        let Some(stamp) = self.stamp(Some(chat)).await else {
            return Ok(None);
        };
        let Some(last_seq) = stamp.last_seq else {
            return Ok(None);
        };
        if !Tail::may_cover(page, last_seq) {
            return Ok(None);
        }
        let held = self.under(stamp.epoch, |s| s.tails.peek(&chat).map(Tail::last));
        let Some(held) = held else {
            return Ok(None);
        };
        // What the tail lacks: the messages after it, or (none, or too far behind) a
        // whole new tail.
        let fill = match held {
            Some(last) if last >= last_seq => None,
            Some(last) if last_seq - last <= TAIL_LEN => {
                Some(PageRequest::after(last, (last_seq - last) as u32)?)
            }
            _ => Some(PageRequest::latest(MAX_PAGE_LIMIT)?),
        };
        if let Some(fill) = fill {
            let read = self.inner.history(chat, fill).await?;
            self.under(stamp.epoch, |s| s.take_in(chat, fill.cursor(), read));
        }
        let answer = self
            .under(stamp.epoch, |s| {
                let tail = s.tails.get(&chat)?;
                (tail.last() >= last_seq).then(|| answer(tail, page))?
            })
            .flatten();
        Self::count("tail", fill.is_none() && answer.is_some());
        Ok(answer)
    }
}

impl State {
    fn clear(&mut self) {
        self.tokens.clear();
        self.standings.clear();
        self.tails.clear();
        self.tail_bytes = 0;
    }

    /// Takes in what the store answered to a tail's fill: a whole tail (`Latest`) replaces
    /// the chat's, the messages after it (`After`) extend it. Anything not contiguous in
    /// `seq` is left out (the store answers those pages).
    fn take_in(&mut self, chat: ChatId, cursor: Cursor, read: Vec<Message>) {
        match cursor {
            Cursor::Latest => {
                let Some(tail) = Tail::from_latest(read) else {
                    return;
                };
                if self
                    .tails
                    .peek(&chat)
                    .is_some_and(|t| t.last() > tail.last())
                {
                    return;
                }
                self.tail_bytes += tail.bytes;
                if let Some(old) = self.tails.put(chat, tail) {
                    self.tail_bytes -= old.bytes;
                }
            }
            Cursor::After(_) | Cursor::Before(_) => {
                let Some(tail) = self.tails.peek_mut(&chat) else {
                    return;
                };
                let before = tail.bytes;
                tail.extend(read);
                self.tail_bytes = self.tail_bytes - before + tail.bytes;
            }
        }
        while self.tail_bytes > self.max_tail_bytes {
            match self.tails.pop_lru() {
                Some((_, evicted)) => self.tail_bytes -= evicted.bytes,
                None => break,
            }
        }
    }
}

impl Tail {
    /// The `seq` of the newest message held (`from` when empty).
    fn last(&self) -> i64 {
        self.from + self.messages.len() as i64
    }

    /// A tail from the answer to "the newest [`TAIL_LEN`]": the whole history when shorter.
    fn from_latest(read: Vec<Message>) -> Option<Self> {
        let from = match read.first() {
            None => 0,
            Some(first) if (read.len() as i64) < TAIL_LEN && first.seq != 1 => return None,
            Some(first) => first.seq - 1,
        };
        if !read
            .iter()
            .zip(read.iter().skip(1))
            .all(|(a, b)| b.seq == a.seq + 1)
        {
            return None;
        }
        let messages = read
            .into_iter()
            .map(Entry::new)
            .collect::<Option<VecDeque<Entry>>>()?;
        let bytes = TAIL_OVERHEAD + messages.iter().map(Entry::bytes).sum::<usize>();
        Some(Self {
            from,
            messages,
            bytes,
        })
    }

    /// Appends the messages that continue the tail, then drops the oldest beyond
    /// [`TAIL_LEN`].
    fn extend(&mut self, read: Vec<Message>) {
        for message in read {
            if message.seq <= self.last() {
                continue;
            }
            if message.seq != self.last() + 1 {
                break;
            }
            let Some(entry) = Entry::new(message) else {
                break;
            };
            self.bytes += entry.bytes();
            self.messages.push_back(entry);
        }
        while self.messages.len() as i64 > TAIL_LEN {
            if let Some(old) = self.messages.pop_front() {
                self.bytes -= old.bytes();
                self.from += 1;
            }
        }
    }

    /// Whether a tail ending at `last_seq` could hold `page` (else it is not worth reading
    /// one in).
    fn may_cover(page: PageRequest, last_seq: i64) -> bool {
        let (lo, hi) = bounds(page, last_seq);
        lo >= (last_seq - TAIL_LEN).max(0) || hi == lo
    }

    /// The entries of the page, if the tail holds all of it.
    fn entries(&self, page: PageRequest) -> Option<impl Iterator<Item = &Entry>> {
        let (lo, hi) = bounds(page, self.last());
        let (start, end) = match hi == lo {
            true => (0, 0),
            false => (
                usize::try_from(lo - self.from).ok()?,
                usize::try_from(hi - self.from).ok()?,
            ),
        };
        Some(self.messages.range(start..end))
    }

    /// The page, as the store would answer it, if the tail holds all of it.
    fn page(&self, page: PageRequest) -> Option<Vec<Message>> {
        Some(self.entries(page)?.map(|e| e.message.clone()).collect())
    }

    /// The page as the API's JSON list for `viewer`: the messages' JSON joined.
    fn page_json(&self, page: PageRequest, viewer: &Actor) -> Option<Vec<u8>> {
        let parts: Vec<&[u8]> = self.entries(page)?.map(|e| e.json_for(viewer)).collect();
        let mut json = Vec::with_capacity(2 + parts.iter().map(|p| p.len() + 1).sum::<usize>());
        json.push(b'[');
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            json.extend_from_slice(part);
        }
        json.push(b']');
        Some(json)
    }
}

/// The `seq`s of `page` in a chat whose messages are `1..=last`: those in `(lo, hi]`, the
/// store's answer (`seq` is contiguous: every message takes the next one).
fn bounds(page: PageRequest, last: i64) -> (i64, i64) {
    let limit = i64::from(page.limit().get());
    match page.cursor() {
        Cursor::Latest => ((last - limit).max(0), last),
        Cursor::Before(b) => {
            let hi = (b - 1).clamp(0, last);
            ((hi - limit).max(0), hi)
        }
        Cursor::After(a) => {
            let lo = a.clamp(0, last);
            (lo, (lo + limit).min(last))
        }
    }
}

/// What a tail costs besides its messages (its entry in the map, its queue), so that even
/// empty tails count against the budget.
const TAIL_OVERHEAD: usize = 128;

/// What a message costs in a tail, roughly: its text fields and a fixed part.
fn message_bytes(m: &Message) -> usize {
    const FIXED: usize = std::mem::size_of::<Message>();
    FIXED
        + m.content.len()
        + m.client_id.as_ref().map_or(0, String::len)
        + m.user.username.len()
        + m.user.email.len()
        + m.user.first_name.len()
        + m.user.last_name.len()
}

#[async_trait]
impl Store for CachedStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    async fn insert_user(&self, user: NewUserRecord) -> Result<UserRecord> {
        self.inner.insert_user(user).await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>> {
        self.inner.user_by_id(id).await
    }

    async fn user_by_key(&self, username_key: &str) -> Result<Option<UserRecord>> {
        self.inner.user_by_key(username_key).await
    }

    async fn insert_external_user(
        &self,
        user: NewUserRecord,
        issuer: &str,
        subject: &str,
    ) -> Result<UserRecord> {
        self.inner.insert_external_user(user, issuer, subject).await
    }

    async fn user_by_external(&self, issuer: &str, subject: &str) -> Result<Option<UserRecord>> {
        self.inner.user_by_external(issuer, subject).await
    }

    async fn update_profile(
        &self,
        id: UserId,
        first_name: &str,
        last_name: &str,
        email: &str,
        search_key: &str,
    ) -> Result<UserRecord> {
        self.inner
            .update_profile(id, first_name, last_name, email, search_key)
            .await
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<()> {
        self.inner.set_password_hash(id, hash).await
    }

    async fn set_user_flags(
        &self,
        id: UserId,
        is_admin: Option<bool>,
        is_active: Option<bool>,
    ) -> Result<FlagsChange> {
        self.inner.set_user_flags(id, is_admin, is_active).await
    }

    async fn list_users(
        &self,
        pattern: Option<&str>,
        limit: PageLimit,
        offset: u32,
    ) -> Result<Vec<UserRecord>> {
        self.inner.list_users(pattern, limit, offset).await
    }

    async fn insert_token(
        &self,
        user: UserId,
        verified_hash: &str,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool> {
        self.inner
            .insert_token(user, verified_hash, token_hash, now)
            .await
    }

    async fn token_user(&self, token_hash: &str) -> Result<Option<UserRecord>> {
        let Some(stamp) = self.stamp(None).await else {
            return self.inner.token_user(token_hash).await;
        };
        let hit = self
            .under(stamp.epoch, |s| s.tokens.get(token_hash).cloned())
            .flatten();
        Self::count("token", hit.is_some());
        if hit.is_some() {
            return Ok(hit);
        }
        let found = self.inner.token_user(token_hash).await?;
        if let Some(account) = &found {
            self.under(stamp.epoch, |s| {
                s.tokens.put(token_hash.to_owned(), account.clone())
            });
        }
        Ok(found)
    }

    async fn delete_token(&self, token_hash: &str) -> Result<()> {
        self.inner.delete_token(token_hash).await
    }

    async fn insert_session(
        &self,
        session_hash: &str,
        user: UserId,
        verified_hash: &str,
        csrf_token: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool> {
        self.inner
            .insert_session(session_hash, user, verified_hash, csrf_token, expires_at)
            .await
    }

    async fn session_user(
        &self,
        session_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<(UserRecord, String)>> {
        self.inner.session_user(session_hash, now).await
    }

    async fn delete_session(&self, session_hash: &str, now: OffsetDateTime) -> Result<()> {
        self.inner.delete_session(session_hash, now).await
    }

    async fn create_chat(
        &self,
        name: &str,
        members: &[UserId],
        now: OffsetDateTime,
    ) -> Result<ChatId> {
        self.inner.create_chat(name, members, now).await
    }

    async fn chat(&self, id: ChatId) -> Result<Option<ChatRecord>> {
        self.inner.chat(id).await
    }

    async fn chats(&self, filter: ChatFilter, viewer: UserId) -> Result<Vec<Chat>> {
        self.inner.chats(filter, viewer).await
    }

    async fn rename_chat(&self, id: ChatId, name: &str) -> Result<Option<i64>> {
        self.inner.rename_chat(id, name).await
    }

    async fn delete_chat(&self, id: ChatId) -> Result<Option<i64>> {
        self.inner.delete_chat(id).await
    }

    async fn add_member(
        &self,
        chat: ChatId,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<MemberChange> {
        self.inner.add_member(chat, user, now).await
    }

    async fn remove_member(&self, chat: ChatId, user: UserId) -> Result<MemberChange> {
        self.inner.remove_member(chat, user).await
    }

    async fn is_member(&self, chat: ChatId, user: UserId) -> Result<bool> {
        self.inner.is_member(chat, user).await
    }

    async fn standing(&self, user: UserId, chat: ChatId) -> Result<Standing> {
        let Some(stamp) = self.stamp(Some(chat)).await else {
            return self.inner.standing(user, chat).await;
        };
        let Some(last_seq) = stamp.last_seq else {
            // No such chat: the store says so, with the account.
            return self.inner.standing(user, chat).await;
        };
        let hit = self
            .under(stamp.epoch, |s| s.standings.get(&(user, chat)).cloned())
            .flatten();
        Self::count("standing", hit.is_some());
        if let Some(mut standing) = hit {
            if let Some(record) = &mut standing.chat {
                record.last_seq = last_seq;
            }
            return Ok(standing);
        }
        let standing = self.inner.standing(user, chat).await?;
        if standing.account.is_some() && standing.chat.is_some() {
            self.under(stamp.epoch, |s| {
                s.standings.put((user, chat), standing.clone())
            });
        }
        Ok(standing)
    }

    async fn members(&self, chat: ChatId) -> Result<Vec<UserRecord>> {
        self.inner.members(chat).await
    }

    async fn mark_read(&self, chat: ChatId, user: UserId, seq: i64) -> Result<Option<ReadUpdate>> {
        self.inner.mark_read(chat, user, seq).await
    }

    async fn store_messages(
        &self,
        batch: &[PendingMessage],
        now: OffsetDateTime,
    ) -> Result<Vec<Result<StoredMessage>>> {
        // Tails learn of these by the next stamp's `last_seq` (and read them as the store
        // has them).
        self.inner.store_messages(batch, now).await
    }

    async fn history(&self, chat: ChatId, page: PageRequest) -> Result<Vec<Message>> {
        match self.page_from_tail(chat, page, Tail::page).await? {
            Some(messages) => Ok(messages),
            None => self.inner.history(chat, page).await,
        }
    }

    async fn history_json(
        &self,
        chat: ChatId,
        page: PageRequest,
        viewer: &Actor,
    ) -> Result<Vec<u8>> {
        let json = |tail: &Tail, page| tail.page_json(page, viewer);
        match self.page_from_tail(chat, page, json).await? {
            Some(json) => Ok(json),
            None => self.inner.history_json(chat, page, viewer).await,
        }
    }

    async fn cache_stamp(&self, chat: Option<ChatId>) -> Result<Option<CacheStamp>> {
        self.inner.cache_stamp(chat).await
    }
}
