//! Store faults that last until someone ends them, waited out with nothing lost: a SQLite
//! file kept locked past its busy timeout (here; the full disk is tested end to end in
//! crates/primer-cli/tests/reliability.rs). Its own test binary: it shortens how long
//! transient faults are retried (`PRIMER_STORE_RETRY_SECONDS`) for the whole process, so that
//! waiting out a fault is told apart from retrying a transient one.

use primer_store::Store;

fn sqlite_url(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("primer-faults-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}", dir.join("store.db").display())
}

/// A SQLite store kept locked by another process for longer than its busy timeout: the write
/// waits (the result stays in the caller's memory) and lands once the lock is gone, instead of
/// failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_locked_past_the_busy_timeout_is_waited_out() {
    use sqlx::Executor;
    // SAFETY: set before any store is opened (the retry window is read once), in the only test
    // of this binary.
    unsafe { std::env::set_var("PRIMER_STORE_RETRY_SECONDS", "0.5") };
    let url = format!("{}?busy_timeout=100", sqlite_url("locked"));
    let store = Store::open(&url).await.unwrap();
    let c = store.create_campaign("c", "{}", 1).await.unwrap().unwrap();
    // Another process's connection takes the write lock and keeps it for 2 s (20 busy timeouts).
    sqlx::any::install_default_drivers();
    let file = primer_store::sqlite_file(&url).unwrap();
    let other = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    let mut conn = other.acquire().await.unwrap();
    conn.execute("BEGIN EXCLUSIVE").await.unwrap();
    let held = std::time::Instant::now();
    let release = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        conn.execute("COMMIT").await.unwrap();
    });
    let id = store.create_campaign("d", "{}", 2).await.expect("the write waited for the lock").unwrap().id;
    assert!(held.elapsed().as_secs_f64() >= 1.9, "the write did not wait for the lock: {:?}", held.elapsed());
    release.await.unwrap();
    assert_eq!(store.campaigns().await.unwrap().iter().map(|c| c.id).collect::<Vec<_>>(), [c.id, id]);
}
