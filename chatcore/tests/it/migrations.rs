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
