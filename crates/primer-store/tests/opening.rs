//! Opening a store, on both backends: commands that only read open it read-only and never
//! create, migrate or write it; a database of something else is refused by every command,
//! untouched, naming what it holds; a newer primer's store is refused with both versions; an
//! older one is migrated only by a command that writes. And the controller lease: one
//! controller per campaign.

use primer_store::testing::{migrate_to, postgres_database, raw_sql, raw_tables};
use primer_store::{NewController, Store, StoreError, schema_version};

fn sqlite_url(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("primer-opening-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}", dir.join("store.db").display())
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::sqlite_url(stringify!($name))).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::postgres_database(stringify!($name))).await
            }
        }
    )*};
}

on_both_backends!(
    reading_an_empty_or_missing_store_creates_nothing,
    a_foreign_database_is_refused_by_every_command_untouched,
    a_newer_store_is_refused_with_both_versions,
    an_older_store_is_migrated_only_by_a_command_that_writes,
    a_read_only_store_cannot_be_written,
    one_controller_holds_a_campaign,
);

/// The files of a SQLite store's folder (the database, and any -wal or -shm beside it).
/// Their names, sizes and a hash of their bytes.
fn files_beside(url: &str) -> Vec<(String, usize, u64)> {
    use std::hash::{Hash, Hasher};
    let Some(file) = primer_store::sqlite_file(url) else { return Vec::new() };
    let mut files: Vec<(String, usize, u64)> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            (p.file_name().unwrap().to_string_lossy().into_owned(), bytes.len(), h.finish())
        })
        .collect();
    files.sort();
    files
}

/// `{:#}` of the error as `primer` prints it, with its chain.
fn printed(e: StoreError) -> String {
    format!("{:#}", anyhow::Error::from(e))
}

async fn reading_an_empty_or_missing_store_creates_nothing(url: String) {
    let e = Store::open_read(&url).await.unwrap_err();
    if url.starts_with("sqlite") {
        assert!(matches!(e, StoreError::Missing { .. }), "{e}");
        assert!(files_beside(&url).is_empty(), "a read created {:?}", files_beside(&url));
        // An empty file (`touch`) is not a store either, and stays empty.
        std::fs::write(primer_store::sqlite_file(&url).unwrap(), b"").unwrap();
        let e = Store::open_read(&url).await.unwrap_err();
        assert!(matches!(e, StoreError::Empty { .. }), "{e}");
        assert_eq!(files_beside(&url).iter().map(|f| (f.0.as_str(), f.1)).collect::<Vec<_>>(), [("store.db", 0)]);
    } else {
        assert!(matches!(e, StoreError::Empty { .. }), "{e}");
        assert!(raw_tables(&url).await.is_empty());
    }
    assert!(printed(e).contains("no store at"));
    // A command that writes creates it.
    Store::open(&url).await.unwrap();
    Store::open_read(&url).await.unwrap();
}

async fn a_foreign_database_is_refused_by_every_command_untouched(url: String) {
    // Another application's database, one of whose tables has a name primer uses.
    raw_sql(&url, &["CREATE TABLE notes (id INTEGER, body TEXT)", "CREATE TABLE campaigns (x INTEGER)"]).await;
    let files = files_beside(&url);
    let tables = raw_tables(&url).await;
    for (what, e) in
        [("read", Store::open_read(&url).await.unwrap_err()), ("write", Store::open(&url).await.unwrap_err())]
    {
        assert!(matches!(e, StoreError::Foreign { .. }), "{what}: {e}");
        let text = printed(e);
        assert!(text.contains("not a primer store") && text.contains("tables campaigns, notes"), "{what}: {text}");
        // Said once (the migration error it replaced was printed four times over).
        assert_eq!(text.matches("campaigns").count(), 1, "{what}: {text}");
    }
    assert_eq!(files_beside(&url), files, "the foreign SQLite file was changed");
    assert_eq!(raw_tables(&url).await, tables, "tables were added to the foreign database");
    // sqlx migrations of another application are not primer's either.
    raw_sql(
        &url,
        &["CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, success BOOLEAN NOT NULL)",
          "INSERT INTO _sqlx_migrations (version, description, success) VALUES (20240101, 'create notes', TRUE)"],
    )
    .await;
    let e = Store::open(&url).await.unwrap_err();
    assert!(printed(e).contains("sqlx migration 20240101 `create notes`, which is not primer's"));
}

async fn a_newer_store_is_refused_with_both_versions(url: String) {
    Store::open(&url).await.unwrap();
    let newer = schema_version() + 1;
    let checksum = if url.starts_with("sqlite") { "X'00'" } else { "decode('00', 'hex')" };
    raw_sql(
        &url,
        &[&format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES ({newer}, 'from the future', TRUE, {checksum}, 0)"
        )],
    )
    .await;
    for e in [Store::open_read(&url).await.unwrap_err(), Store::open(&url).await.unwrap_err()] {
        match &e {
            StoreError::Newer { found, supported, .. } => assert_eq!((*found, *supported), (newer, schema_version())),
            other => panic!("{other}"),
        }
        let text = printed(e);
        assert!(text.contains(&format!("version {newer}")) && text.contains(&format!("primer's {}", schema_version())));
    }
}

async fn an_older_store_is_migrated_only_by_a_command_that_writes(url: String) {
    migrate_to(&url, 3).await;
    raw_sql(&url, &["INSERT INTO campaigns (name, config, seed, created_at) VALUES ('old', '{}', 1, 0)"]).await;
    let before = raw_tables(&url).await;
    let e = Store::open_read(&url).await.unwrap_err();
    match &e {
        StoreError::Older { found, supported, .. } => assert_eq!((*found, *supported), (3, schema_version())),
        other => panic!("{other}"),
    }
    assert!(printed(e).contains("run one that writes"));
    assert_eq!(raw_tables(&url).await, before, "a read migrated the store");
    let store = Store::open(&url).await.unwrap();
    assert!(raw_tables(&url).await.contains(&"workers".to_string()));
    assert_eq!(store.campaigns().await.unwrap()[0].name, "old", "what the old store held is kept");
    assert_eq!(Store::open_read(&url).await.unwrap().campaigns().await.unwrap().len(), 1);
}

async fn a_read_only_store_cannot_be_written(url: String) {
    Store::open(&url).await.unwrap().create_campaign("a", "{}", 1).await.unwrap();
    let reader = Store::open_read(&url).await.unwrap();
    assert_eq!(reader.campaigns().await.unwrap().len(), 1);
    assert!(reader.create_campaign("b", "{}", 1).await.is_err(), "a read-only store took a write");
    assert!(
        reader
            .register_worker(&primer_store::NewWorker {
                id: "w".into(),
                campaign: 1,
                host: "h".into(),
                pid: 1,
                device: "cpu".into()
            })
            .await
            .is_err()
    );
    drop(reader);
    assert_eq!(Store::open(&url).await.unwrap().campaigns().await.unwrap().len(), 1);
}

async fn one_controller_holds_a_campaign(url: String) {
    let store = Store::open(&url).await.unwrap();
    let c = store.create_campaign("c", "{}", 1).await.unwrap().unwrap();
    let who = |holder: &str, pid: i64| NewController { campaign: c.id, holder: holder.into(), host: "h".into(), pid };
    let (a, b) = (who("a", 1), who("b", 2));
    assert_eq!(store.acquire_controller(&a, 30.0, None).await.unwrap().holder, "a");
    // Taking it again (a retried call) keeps it; a second controller is told who has it.
    assert_eq!(store.acquire_controller(&a, 30.0, None).await.unwrap().holder, "a");
    let held = store.acquire_controller(&b, 30.0, None).await.unwrap();
    assert_eq!((held.holder.as_str(), held.pid), ("a", 1));
    assert!(store.controller_heartbeat(c.id, "a").await.unwrap());
    assert!(!store.controller_heartbeat(c.id, "b").await.unwrap());
    // One the caller knows is dead is taken over at once; the old holder learns it lost it.
    assert_eq!(store.acquire_controller(&b, 30.0, Some("a")).await.unwrap().holder, "b");
    assert!(!store.controller_heartbeat(c.id, "a").await.unwrap());
    // A stale lease is taken over; a released one is free.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(store.acquire_controller(&a, 0.2, None).await.unwrap().holder, "a");
    store.release_controller(c.id, "a").await.unwrap();
    assert!(store.controller(c.id).await.unwrap().is_none());
    assert_eq!(store.acquire_controller(&b, 30.0, None).await.unwrap().holder, "b");
}
