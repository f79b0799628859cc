//! Migrations: both backends have the same list, and a database migrated by a newer binary
//! is refused instead of being used half-understood.

use chatcore::ErrorKind;
use chatcore::store::sqlite::SqliteStore;

fn names(backend: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(backend);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("postgres"));
}

#[tokio::test]
async fn a_database_newer_than_the_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let store = SqliteStore::open(&url, 1).await.unwrap();
    // Pretend a newer binary applied one more migration.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
         VALUES (99990101000000, 'from the future', CURRENT_TIMESTAMP, TRUE, x'00', 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.pool().close().await;
    let err = SqliteStore::open(&url, 1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.to_string().contains("newer than this binary"), "{err}");
    // Opening the same file again is fine once the stray row is gone: nothing else changed.
    let reopened_url = url.clone();
    let pool = sqlx::SqlitePool::connect(&reopened_url).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 99990101000000")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    SqliteStore::open(&url, 1).await.unwrap();
}

/// A database written before times had one width is rewritten by the migration: the
/// fraction padded to six digits, the instant unchanged.
#[tokio::test]
async fn times_stored_trimmed_are_rewritten_in_one_width() {
    const MIGRATION: i64 = 20261202000003;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let store = SqliteStore::open(&url, 1).await.unwrap();
    let pool = store.pool().clone();
    let trimmed = [
        ("a", "2026-12-02T10:00:11.5Z", "2026-12-02T10:00:11.500000Z"),
        ("b", "2026-12-02T10:00:11Z", "2026-12-02T10:00:11.000000Z"),
        (
            "c",
            "2026-12-02T10:00:11.50001Z",
            "2026-12-02T10:00:11.500010Z",
        ),
        (
            "d",
            "2026-12-02T10:00:11.123456Z",
            "2026-12-02T10:00:11.123456Z",
        ),
    ];
    for (name, old, _) in trimmed {
        sqlx::query(
            "INSERT INTO users (username, username_key, search_key, password_hash, created_at) \
             VALUES ($1, $1, $1, '!', $2)",
        )
        .bind(name)
        .bind(old)
        .execute(&pool)
        .await
        .unwrap();
    }
    // As if this database had been written before the migration existed.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(MIGRATION)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let store = SqliteStore::open(&url, 1).await.unwrap();
    for (name, _, new) in trimmed {
        let stored: String = sqlx::query_scalar("SELECT created_at FROM users WHERE username = $1")
            .bind(name)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(stored, new);
    }
    let order: Vec<String> = sqlx::query_scalar("SELECT username FROM users ORDER BY created_at")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(order, ["b", "d", "a", "c"], "text order is time order");
}
