//! Stored times compare as times on both backends: SQLite keeps them as text, so the text
//! must be fixed-width (six fractional digits, `Z`) for its order to be the times' order.

use crate::fixture::{Raw, TestCore, contract_tests};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

contract_tests!(
    a_session_expires_to_the_microsecond,
    every_stored_time_has_one_width,
);

/// The password hash a session is verified against.
async fn password_hash(t: &TestCore) -> String {
    t.raw.column("users", "password_hash").await.remove(0)
}

async fn a_session_expires_to_the_microsecond(t: TestCore) {
    let alice = t.user("alice").await;
    let hash = password_hash(&t).await;
    // Half a second past, then ten microseconds later: as trimmed text, `…11.5Z` sorts
    // after `…11.50001Z`.
    let expires_at = datetime!(2026-12-02 10:00:11.5 UTC);
    let stored = t
        .store
        .insert_session("session-hash", alice.id(), &hash, "csrf", expires_at)
        .await
        .unwrap();
    assert!(stored);
    let at = |offset: Duration| t.store.session_user("session-hash", expires_at + offset);
    assert!(at(Duration::microseconds(-10)).await.unwrap().is_some());
    assert!(
        at(Duration::ZERO).await.unwrap().is_none(),
        "a session ends at its expiry"
    );
    assert!(
        at(Duration::microseconds(10)).await.unwrap().is_none(),
        "ten microseconds after its expiry a session is over"
    );
    assert!(at(Duration::seconds(1)).await.unwrap().is_none());
}

async fn every_stored_time_has_one_width(t: TestCore) {
    let Raw::Sqlite(pool) = &t.raw else {
        return; // PostgreSQL keeps TIMESTAMPTZ, not text.
    };
    let (root, [alice], chat) = t.chat_with_members(["alice"]).await;
    t.post(&alice, chat, "hello").await;
    let hash = password_hash(&t).await;
    let round = datetime!(2026-12-02 10:00:00 UTC);
    t.store
        .insert_session("s", root.id(), &hash, "csrf", round)
        .await
        .unwrap();
    let columns = [
        ("users", "created_at"),
        ("api_tokens", "created_at"),
        ("sessions", "expires_at"),
        ("chats", "created_at"),
        ("memberships", "joined_at"),
        ("messages", "created_at"),
    ];
    for (table, column) in columns {
        let sql = format!("SELECT {column} FROM {table}");
        let values: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap();
        assert!(!values.is_empty(), "{table}.{column} has rows");
        for value in values {
            assert_eq!(value.len(), 27, "{table}.{column}: {value}");
            assert!(value.ends_with('Z'), "{table}.{column}: {value}");
            let parsed =
                OffsetDateTime::parse(&value, &time::format_description::well_known::Rfc3339);
            assert!(parsed.is_ok(), "{table}.{column}: {value}");
        }
    }
}
