//! Messages: the group-commit batch and history pages. Compiled once per backend (see
//! `sql/mod.rs`); `Db` is that backend.
//!
//! A batch is one transaction. Its items are grouped by chat and the chats are locked in
//! ascending id order (two nodes' batches cannot deadlock). Under each chat's lock, its
//! share goes through four steps: whether each author is active and a member (one query);
//! the triage of each item (an inactive author, not a member, a `client_id` already stored
//! (one lookup for the share), a `client_id` repeated within the batch, or new with the
//! next `seq`); one round trip inserting the new ones, advancing the chat's `last_seq` and
//! moving each author's read marker to their newest message; and last the in-batch
//! repeats, which answer what their first occurrence got.

use super::Db;
use super::chats::lock_chat;
use crate::error::{Error, Result};
use crate::model::{ChatId, Cursor, Message, PageRequest, UserId};
use crate::store::sql::{MESSAGE_SELECT, MessageRow, internal};
use crate::store::{PendingMessage, StoredMessage};
use sqlx::{AssertSqlSafe, Pool, QueryBuilder, Transaction};
use std::collections::{BTreeMap, HashMap};
use time::OffsetDateTime;

type Tx = Transaction<'static, Db>;

/// One result per item of the batch, filled in as the chats are stored.
type Results = [Option<Result<StoredMessage>>];

/// Stores a batch in one transaction: one result per item, in input order. The outer error
/// means the transaction failed and nothing was stored.
pub(super) async fn store_batch(
    pool: &Pool<Db>,
    batch: &[PendingMessage],
    now: OffsetDateTime,
) -> Result<Vec<Result<StoredMessage>>> {
    // Chats in ascending id order, so two nodes' batches cannot deadlock.
    let mut by_chat: BTreeMap<ChatId, Vec<usize>> = BTreeMap::new();
    for (i, item) in batch.iter().enumerate() {
        by_chat.entry(item.chat).or_default().push(i);
    }
    let mut results: Vec<Option<Result<StoredMessage>>> = vec![None; batch.len()];
    let run = async {
        let mut tx = super::begin_write(pool).await?;
        for (chat, indices) in &by_chat {
            store_chat_share(&mut tx, *chat, indices, batch, now, &mut results).await?;
        }
        tx.commit().await
    };
    run.await.map_err(internal("store messages"))?;
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or(Err(Error::Internal)))
        .collect())
}

/// Stores one chat's share of a batch under its lock; fills `results` for the items at
/// `indices` (input order within the chat).
async fn store_chat_share(
    tx: &mut Tx,
    chat: ChatId,
    indices: &[usize],
    batch: &[PendingMessage],
    now: OffsetDateTime,
    results: &mut Results,
) -> sqlx::Result<()> {
    let Some(last_seq) = lock_chat(tx, chat).await? else {
        for &i in indices {
            results[i] = Some(Err(Error::NotFound("Chat")));
        }
        return Ok(());
    };
    let authors = authors_standing(tx, chat, indices, batch).await?;
    let share = triage(tx, chat, last_seq, indices, batch, &authors, results).await?;
    insert(tx, chat, &share.new, batch, now, results).await?;
    resolve_in_batch_duplicates(&share.repeats, results);
    Ok(())
}

/// Each author of the share as it stands: whether their account is active, and whether they
/// are a member of the chat. One query under the lock (a deactivation commits before it, or
/// waits for this chat's lock and takes its `at_seq` after this batch).
async fn authors_standing(
    tx: &mut Tx,
    chat: ChatId,
    indices: &[usize],
    batch: &[PendingMessage],
) -> sqlx::Result<HashMap<UserId, Standing>> {
    let mut authors: Vec<UserId> = indices.iter().map(|&i| batch[i].author.id).collect();
    authors.sort_unstable();
    authors.dedup();
    let mut query = QueryBuilder::<Db>::new(
        "SELECT u.id, u.is_active, m.user_id IS NOT NULL FROM users u \
         LEFT JOIN memberships m ON m.user_id = u.id AND m.chat_id = ",
    );
    query.push_bind(chat).push(" WHERE u.id IN (");
    let mut list = query.separated(", ");
    for author in &authors {
        list.push_bind(*author);
    }
    list.push_unseparated(")");
    let rows: Vec<(UserId, bool, bool)> = query.build_query_as().fetch_all(&mut **tx).await?;
    Ok(rows
        .into_iter()
        .map(|(user, active, member)| (user, Standing { active, member }))
        .collect())
}

/// An author's account and membership, as read under the chat's lock.
#[derive(Debug, Clone, Copy)]
struct Standing {
    active: bool,
    member: bool,
}

/// A chat's share of a batch after [`triage`].
struct Share {
    /// Items to insert, with their new `seq`: `(item, seq)`.
    new: Vec<(usize, i64)>,
    /// Items repeating the `client_id` of an earlier item of the batch: `(item, first)`.
    repeats: Vec<(usize, usize)>,
}

/// Sorts each item of the share, in order: an inactive author's (a held actor of a
/// deactivated user) and a non-member's are refused; one whose
/// `client_id` is already stored answers the stored message; one repeating the `client_id`
/// of an earlier item waits for that item's result; any other gets the next `seq`.
async fn triage(
    tx: &mut Tx,
    chat: ChatId,
    mut last_seq: i64,
    indices: &[usize],
    batch: &[PendingMessage],
    authors: &HashMap<UserId, Standing>,
    results: &mut Results,
) -> sqlx::Result<Share> {
    let stored = stored_duplicates(tx, chat, indices, batch).await?;
    // (author, client_id) -> index of the item in this batch that stores it.
    let mut first_with_key: HashMap<(UserId, &str), usize> = HashMap::new();
    let mut share = Share {
        new: Vec::new(),
        repeats: Vec::new(),
    };
    for &i in indices {
        let item = &batch[i];
        let author = item.author.id;
        let standing = authors.get(&author);
        if !standing.is_some_and(|s| s.active) {
            results[i] = Some(Err(Error::Unauthenticated));
            continue;
        }
        if !standing.is_some_and(|s| s.member) {
            results[i] = Some(Err(Error::forbidden("You are not a member of this chat")));
            continue;
        }
        if let Some(key) = item.client_id.as_deref() {
            if let Some(&first) = first_with_key.get(&(author, key)) {
                share.repeats.push((i, first));
                continue;
            }
            if let Some(message) = stored.get(&(author, key)) {
                results[i] = Some(Ok(StoredMessage {
                    message: message.clone(),
                    created: false,
                }));
                continue;
            }
            first_with_key.insert((author, key), i);
        }
        last_seq += 1;
        share.new.push((i, last_seq));
    }
    Ok(share)
}

/// Keys looked up by one query of [`stored_duplicates`]: SQLite nests an `OR` chain one
/// level per term and refuses expressions deeper than 1 000.
const KEYS_PER_LOOKUP: usize = 200;

/// The messages the share's items with a `client_id` already stored in this chat, by
/// `(author, client_id)`: one query per [`KEYS_PER_LOOKUP`] keys (each term of its `OR` a
/// lookup in the `(chat_id, user_id, client_id)` index), usually one for the whole share.
async fn stored_duplicates<'b>(
    tx: &mut Tx,
    chat: ChatId,
    indices: &[usize],
    batch: &'b [PendingMessage],
) -> sqlx::Result<HashMap<(UserId, &'b str), Message>> {
    let mut keys: Vec<(UserId, &str)> = indices
        .iter()
        .filter_map(|&i| Some((batch[i].author.id, batch[i].client_id.as_deref()?)))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut stored = HashMap::new();
    for chunk in keys.chunks(KEYS_PER_LOOKUP) {
        let mut query = QueryBuilder::<Db>::new(MESSAGE_SELECT);
        query.push(" WHERE ");
        for (n, (author, key)) in chunk.iter().enumerate() {
            if n > 0 {
                query.push(" OR ");
            }
            query
                .push("(m.chat_id = ")
                .push_bind(chat)
                .push(" AND m.user_id = ")
                .push_bind(*author)
                .push(" AND m.client_id = ")
                .push_bind(key.to_string())
                .push(")");
        }
        let rows: Vec<MessageRow> = query.build_query_as().fetch_all(&mut **tx).await?;
        for row in rows {
            let message = Message::from(row);
            // The key as the batch spells it (the map borrows the batch, not the row); only
            // rows found are searched for, and retries are rare.
            let found = chunk.iter().find(|(author, key)| {
                *author == message.user.id && Some(*key) == message.client_id.as_deref()
            });
            if let Some(&key) = found {
                stored.insert(key, message);
            }
        }
    }
    Ok(stored)
}

/// Stores the new items in one round trip: a multi-row `INSERT … RETURNING id, seq`, the
/// chat's `last_seq` moved to the last of them, and each author's read marker moved to
/// their newest message (a poster has read what they wrote; forward only). SQLite runs the
/// three `;`-separated statements in one call; PostgreSQL prepares one statement, so there
/// the two updates are data-modifying CTEs beside the insert (see [`OneTrip`]).
async fn insert(
    tx: &mut Tx,
    chat: ChatId,
    new: &[(usize, i64)],
    batch: &[PendingMessage],
    now: OffsetDateTime,
    results: &mut Results,
) -> sqlx::Result<()> {
    let Some(&(_, last_seq)) = new.last() else {
        return Ok(());
    };
    let mut trip = OneTrip::new();
    trip.query
        .push("INSERT INTO messages (chat_id, seq, user_id, content, client_id, created_at) ");
    trip.query.push_values(new, |mut row, &(i, seq)| {
        let item = &batch[i];
        row.push_bind(chat)
            .push_bind(seq)
            .push_bind(item.author.id)
            .push_bind(item.content.clone())
            .push_bind(item.client_id.clone())
            .push_bind(super::db_time(now));
    });
    trip.query.push(" RETURNING id, seq");
    trip.next("advanced");
    trip.query
        .push("UPDATE chats SET last_seq = ")
        .push_bind(last_seq)
        .push(" WHERE id = ")
        .push_bind(chat);
    trip.next("marked");
    push_mark_authors_read(&mut trip.query, chat, new, batch);
    let ids: Vec<(i64, i64)> = trip.finish().build_query_as().fetch_all(&mut **tx).await?;
    let ids: HashMap<i64, i64> = ids.into_iter().map(|(id, seq)| (seq, id)).collect();
    for &(i, seq) in new {
        let item = &batch[i];
        let Some(&id) = ids.get(&seq) else {
            // RETURNING yields every inserted row; anything else is a broken database, and
            // the whole batch must not commit.
            return Err(sqlx::Error::Protocol(format!(
                "INSERT … RETURNING did not return seq {seq}"
            )));
        };
        let message = Message {
            id: id.into(),
            chat,
            user: item.author.clone(),
            content: item.content.clone(),
            timestamp: now,
            seq,
            client_id: item.client_id.clone(),
        };
        results[i] = Some(Ok(StoredMessage {
            message,
            created: true,
        }));
    }
    Ok(())
}

/// Statements sent to the database as one. The first one's rows are the answer. SQLite
/// runs `;`-separated statements in one call (their `$N` bind numbers run on across
/// them); PostgreSQL prepares a single statement, so there the first becomes the CTE
/// `answer` and each next one a data-modifying CTE, all run to completion whatever the
/// final `SELECT * FROM answer` reads.
struct OneTrip {
    query: QueryBuilder<Db>,
    /// Whether the statement being pushed is the first (whose rows are the answer).
    at_first: bool,
}

impl OneTrip {
    fn new() -> Self {
        let opening = if super::SEPARATE_STATEMENTS {
            ""
        } else {
            "WITH answer AS ("
        };
        Self {
            query: QueryBuilder::new(opening),
            at_first: true,
        }
    }

    /// Ends the statement before and begins the next (`name` names its CTE).
    fn next(&mut self, name: &str) {
        if super::SEPARATE_STATEMENTS {
            self.query.push("; ");
        } else {
            self.end_cte();
            self.query.push(", ").push(name).push(" AS (");
        }
        self.at_first = false;
    }

    /// Closes the CTE being pushed; each one after the first returns a row per row written.
    fn end_cte(&mut self) {
        self.query
            .push(if self.at_first { ")" } else { " RETURNING 1)" });
    }

    fn finish(mut self) -> QueryBuilder<Db> {
        if !super::SEPARATE_STATEMENTS {
            self.end_cte();
            self.query.push(" SELECT * FROM answer");
        }
        self.query
    }
}

/// Pushes the `UPDATE` moving each author of `new` to their newest message, forward only
/// (one `CASE` for all the authors of the share).
fn push_mark_authors_read(
    update: &mut QueryBuilder<Db>,
    chat: ChatId,
    new: &[(usize, i64)],
    batch: &[PendingMessage],
) {
    // `new` is in `seq` order, so the last insert per author is their newest message.
    let mut newest: BTreeMap<UserId, i64> = BTreeMap::new();
    for &(i, seq) in new {
        newest.insert(batch[i].author.id, seq);
    }
    update.push("UPDATE memberships SET last_read_seq = CASE");
    for (&author, &seq) in &newest {
        update
            .push(" WHEN user_id = ")
            .push_bind(author)
            .push(" AND last_read_seq < ")
            .push_bind(seq)
            .push(" THEN ")
            .push_bind(seq);
    }
    update
        .push(" ELSE last_read_seq END WHERE chat_id = ")
        .push_bind(chat)
        .push(" AND user_id IN (");
    let mut authors = update.separated(", ");
    for &author in newest.keys() {
        authors.push_bind(author);
    }
    authors.push_unseparated(")");
}

/// Each repeat answers what its first occurrence got (as not created), or the same error.
fn resolve_in_batch_duplicates(repeats: &[(usize, usize)], results: &mut Results) {
    for &(i, first) in repeats {
        results[i] = match &results[first] {
            Some(Ok(stored)) => Some(Ok(StoredMessage {
                message: stored.message.clone(),
                created: false,
            })),
            other => other.clone(),
        };
    }
}

/// A page of a chat's history, oldest first (authors with e-mail).
pub(super) async fn history(
    pool: &Pool<Db>,
    chat: ChatId,
    page: PageRequest,
) -> Result<Vec<Message>> {
    let (condition, from, order) = match page.cursor() {
        Cursor::Latest => ("m.seq > $2", 0, "DESC"),
        Cursor::Before(b) => ("m.seq < $2", b, "DESC"),
        Cursor::After(a) => ("m.seq > $2", a, "ASC"),
    };
    let rows: Vec<MessageRow> = sqlx::query_as(AssertSqlSafe(format!(
        "{MESSAGE_SELECT} WHERE m.chat_id = $1 AND {condition} ORDER BY m.seq {order} LIMIT $3"
    )))
    .bind(chat)
    .bind(from)
    .bind(i64::from(page.limit().get()))
    .fetch_all(pool)
    .await
    .map_err(internal("history"))?;
    let mut messages: Vec<Message> = rows.into_iter().map(Message::from).collect();
    if !matches!(page.cursor(), Cursor::After(_)) {
        messages.reverse();
    }
    Ok(messages)
}
