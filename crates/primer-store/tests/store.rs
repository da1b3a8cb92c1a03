//! The store on both backends, a temporary SQLite file and a database on a real, throwaway
//! PostgreSQL server: campaigns, dedup by program, claims under leases on the server's clock,
//! requeue and failure after K attempts, results recorded once, concurrent claims, and
//! transient faults (a server restarted under a running workload) retried.

use primer_store::testing::postgres_database;
use primer_store::{Evaluation, NewCandidate, Outcome, ProgramRow, Status, Store};

fn sqlite_url(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("primer-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}", dir.join("store.db").display())
}

/// Each named test, `async fn NAME(url: String)`, runs as `NAME::sqlite` and `NAME::postgres`.
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
    campaigns_candidates_claims_and_results,
    dead_workers_candidates_go_back_then_fail_after_k_attempts,
    concurrent_claims_never_hand_out_a_candidate_twice,
    concurrent_opens_of_a_new_store_all_succeed,
    weights_are_stored_once_per_candidate_budget_and_seed,
);

fn program(hash: &str) -> ProgramRow {
    ProgramRow {
        hash: hash.into(),
        text: format!("# {hash}"),
        json: format!("{{\"h\":\"{hash}\"}}"),
        parameters: 10,
        flops_per_token: 20,
    }
}

fn candidate(campaign: i64, birth: i64, hash: &str) -> NewCandidate {
    NewCandidate {
        campaign,
        birth,
        program: hash.into(),
        parent: None,
        seed_index: Some(0),
        mutation: None,
        description: None,
    }
}

fn result(fitness: Option<f64>) -> Evaluation {
    Evaluation {
        budget: "10steps".into(),
        fitness,
        steps: 10,
        tokens: 100,
        flops: 1e6,
        seconds: 0.5,
        hurdles: 0,
        outcome: if fitness.is_some() { Outcome::Finished } else { Outcome::Diverged },
        reason: None,
        reused_from: None,
    }
}

async fn campaigns_candidates_claims_and_results(url: String) {
    let store = Store::open(&url).await.unwrap();
    let c = store.create_campaign("demo", "{}", 7).await.unwrap().unwrap();
    assert!(store.create_campaign("demo", "{}", 7).await.unwrap().is_none(), "names are unique");
    for h in ["a", "b"] {
        store.put_program(&program(h)).await.unwrap();
    }
    store.put_program(&program("a")).await.unwrap(); // again: a no-op
    assert!(store.add_candidate(&candidate(c.id, 0, "a")).await.unwrap().is_some());
    assert!(store.add_candidate(&candidate(c.id, 1, "a")).await.unwrap().is_none(), "a program once per campaign");
    assert!(store.add_candidate(&candidate(c.id, 0, "b")).await.unwrap().is_none(), "a birth once per campaign");
    let b = store.add_candidate(&candidate(c.id, 1, "b")).await.unwrap().unwrap();
    assert_eq!(store.next_birth(c.id).await.unwrap(), 2);

    let first = store.claim(c.id, "w1", 60.0).await.unwrap().unwrap();
    assert_eq!((first.birth, first.attempts, first.program_json.as_str()), (0, 1, "{\"h\":\"a\"}"));
    let second = store.claim(c.id, "w2", 60.0).await.unwrap().unwrap();
    assert_eq!(second.candidate, b);
    assert!(store.claim(c.id, "w3", 60.0).await.unwrap().is_none());
    assert!(store.heartbeat(first.candidate, "w1", 60.0).await.unwrap());
    assert!(!store.heartbeat(first.candidate, "w2", 60.0).await.unwrap(), "not w2's");
    assert!(store.finish(first.candidate, "w1", &result(Some(2.5))).await.unwrap());
    assert!(!store.finish(first.candidate, "w1", &result(Some(2.4))).await.unwrap(), "recorded once");
    assert!(
        store.finish(first.candidate, "w1", &result(Some(2.5))).await.unwrap(),
        "the same result again (a retry whose first reply was lost) is acknowledged, not recorded twice"
    );
    assert!(store.finish(second.candidate, "w2", &result(None)).await.unwrap());
    let counts = store.counts(c.id).await.unwrap();
    assert_eq!((counts.done, counts.failed, counts.total()), (1, 1, 2));
    let history = store.history(c.id).await.unwrap();
    assert_eq!(
        history.iter().map(|r| (r.status.as_str(), r.fitness)).collect::<Vec<_>>(),
        [("done", Some(2.5)), ("failed", None)]
    );
    assert_eq!(store.top(c.id, 5).await.unwrap().len(), 1);
}

async fn dead_workers_candidates_go_back_then_fail_after_k_attempts(url: String) {
    let store = Store::open(&url).await.unwrap();
    let c = store.create_campaign("k", "{}", 1).await.unwrap().unwrap();
    store.put_program(&program("a")).await.unwrap();
    let id = store.add_candidate(&candidate(c.id, 0, "a")).await.unwrap().unwrap();
    // A lease that has already expired.
    store.claim(c.id, "w1", -1.0).await.unwrap().unwrap();
    store
        .add_curve_point(
            id,
            &primer_store::CurvePoint {
                step: 1,
                tokens: 10,
                flops: 1.0,
                seconds: 0.1,
                train_loss: 5.0,
                val_loss: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(store.requeue(c.id, None, None, 30.0, 2).await.unwrap(), (1, 0));
    let again = store.claim(c.id, "w2", -1.0).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
    assert!(store.curve(id).await.unwrap().is_empty(), "the dead attempt's curve is gone");
    // The second death is the last allowed: failed, with the reason.
    let killed = primer_store::Ended::charged("worker w2 exited (signal: 9)".into());
    assert_eq!(store.requeue(c.id, Some("w2"), Some(&killed), 30.0, 2).await.unwrap(), (0, 1));
    let h = store.history(c.id).await.unwrap();
    assert_eq!(h[0].status, Status::Failed);
    assert_eq!(h[0].outcome, Some(Outcome::Failed));
    assert!(
        h[0].reason.as_deref().unwrap().contains("2 charged attempts ended without a result (last: worker w2 exited"),
        "{:?}",
        h[0].reason
    );
    // Each attempt that ended without a result has its reason.
    let why: Vec<(i64, i64, String)> =
        store.requeues(c.id).await.unwrap().into_iter().map(|r| (r.candidate, r.attempt, r.reason)).collect();
    assert_eq!(
        why,
        [
            (id, 1, "the lease of worker w1 ran out (a worker the store does not know)".to_string()),
            (id, 2, "worker w2 exited (signal: 9)".to_string())
        ]
    );
    assert!(!store.finish(id, "w2", &result(Some(1.0))).await.unwrap(), "a late result is not recorded");
}

async fn concurrent_claims_never_hand_out_a_candidate_twice(url: String) {
    let u = url;
    let store = Store::open(&u).await.unwrap();
    let c = store.create_campaign("c", "{}", 1).await.unwrap().unwrap();
    for i in 0..40 {
        let h = format!("p{i}");
        store.put_program(&program(&h)).await.unwrap();
        store.add_candidate(&candidate(c.id, i, &h)).await.unwrap().unwrap();
    }
    // Four independent pools (as four processes would have) claim everything at once.
    let mut tasks = Vec::new();
    for w in 0..4 {
        let u = u.clone();
        tasks.push(tokio::spawn(async move {
            let s = Store::open(&u).await.unwrap();
            let mut got = Vec::new();
            let me = format!("w{w}");
            while let Some(claim) = s.claim(c.id, &me, 60.0).await.unwrap() {
                got.push(claim.candidate);
                assert!(s.finish(claim.candidate, &me, &result(Some(1.0))).await.unwrap());
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!((n, all.len()), (40, 40));
}

/// Regression: a reader opening a new store while the controller created it made one of them
/// fail its migration ("table already exists"); opening is now safe from many processes at once.
async fn concurrent_opens_of_a_new_store_all_succeed(url: String) {
    let u = url;
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let u = u.clone();
            tokio::spawn(async move { Store::open(&u).await.map(|_| ()) })
        })
        .collect();
    for o in opens {
        o.await.unwrap().unwrap();
    }
    let store = Store::open(&u).await.unwrap();
    assert!(store.create_campaign("x", "{}", 1).await.unwrap().is_some());
}

async fn weights_are_stored_once_per_candidate_budget_and_seed(url: String) {
    use primer_store::Weights;
    let store = Store::open(&url).await.unwrap();
    let c = store.create_campaign("w", "{}", 1).await.unwrap().unwrap();
    store.put_program(&program("a")).await.unwrap();
    let id = store.add_candidate(&candidate(c.id, 0, "a")).await.unwrap().unwrap();
    let w = Weights {
        candidate: id,
        budget: "10steps".into(),
        seed: 3,
        fitness: Some(2.5),
        steps: 10,
        data: vec![1, 2, 3, 0, 255],
    };
    assert!(store.weights(id, "10steps", 3).await.unwrap().is_none());
    assert!(store.put_weights(&w).await.unwrap());
    let again = Weights { data: vec![9], ..w.clone() };
    assert!(!store.put_weights(&again).await.unwrap(), "the first weights are kept");
    assert_eq!(store.weights(id, "10steps", 3).await.unwrap(), Some(w));
    assert!(store.weights(id, "10steps", 4).await.unwrap().is_none(), "another seed");
    assert!(store.weights(id, "20steps", 3).await.unwrap().is_none(), "another budget");
}

/// A worker that lost the reply to its claim (the connection dropped after the commit) claims
/// again and gets the same candidate, not a second one.
async fn a_lost_claim_reply_is_found_again(url: String) {
    let store = Store::open(&url).await.unwrap();
    let c = store.create_campaign("lost", "{}", 1).await.unwrap().unwrap();
    for (i, h) in ["a", "b"].into_iter().enumerate() {
        store.put_program(&program(h)).await.unwrap();
        store.add_candidate(&candidate(c.id, i as i64, h)).await.unwrap().unwrap();
    }
    let first = store.claim(c.id, "w1", 60.0).await.unwrap().unwrap();
    let again = store.claim(c.id, "w1", 60.0).await.unwrap().unwrap();
    assert_eq!((again.candidate, again.attempts), (first.candidate, 1));
    assert_eq!(store.counts(c.id).await.unwrap().running, 1);
    // Leases are on the server's clock: a lease of 60 s ends about 60 s after the server's now.
    let now = store.server_now().await.unwrap();
    assert!((now - primer_store::now()).abs() < 5.0, "server clock {now}");
    // An enqueue retried after its reply was lost returns the same candidate.
    let again = store.add_candidate(&candidate(c.id, 1, "b")).await.unwrap();
    assert!(again.is_some());
}

on_both_backends!(a_lost_claim_reply_is_found_again);

#[test]
fn unsupported_urls_name_the_supported_schemes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let e = rt.block_on(Store::open("mysql://x@localhost/db")).unwrap_err().to_string();
    assert!(e.contains("mysql://x@localhost/db") && e.contains("sqlite://PATH") && e.contains("postgres://"), "{e}");
}

/// A PostgreSQL server restarted (every connection cut) while workers claim, heartbeat and
/// finish: every operation is retried, every candidate is evaluated exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_under_load_loses_nothing_and_records_nothing_twice() {
    let server = std::sync::Arc::new(primer_store::testing::start());
    let url = server.create_database("restart");
    let store = Store::open(&url).await.unwrap();
    let c = store.create_campaign("r", "{}", 1).await.unwrap().unwrap();
    let n = 150;
    for i in 0..n {
        let h = format!("p{i}");
        store.put_program(&program(&h)).await.unwrap();
        store.add_candidate(&candidate(c.id, i, &h)).await.unwrap().unwrap();
    }
    let mut tasks = Vec::new();
    for w in 0..3 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let s = Store::open(&url).await.unwrap();
            let me = format!("w{w}");
            let mut done = 0;
            while let Some(claim) = s.claim(c.id, &me, 60.0).await.unwrap() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                assert!(s.heartbeat(claim.candidate, &me, 60.0).await.unwrap());
                assert!(s.finish(claim.candidate, &me, &result(Some(1.0 + claim.birth as f64))).await.unwrap());
                done += 1;
            }
            done
        }));
    }
    // Two restarts while they work.
    for _ in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let s = server.clone();
        tokio::task::spawn_blocking(move || s.pg_ctl("restart")).await.unwrap();
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, n, "every candidate claimed and finished once");
    let h = store.history(c.id).await.unwrap();
    assert!(h.iter().all(|r| r.status == Status::Done && r.fitness == Some(1.0 + r.birth as f64)));
    let evaluations = server.psql("restart", "SELECT COUNT(*) FROM evaluations");
    assert_eq!(evaluations, n.to_string());
}

/// Regression: on PostgreSQL, a statement first run with a NULL real (a curve point without a
/// validation loss, a failed candidate's fitness) then rejected a real value in the same place
/// ("incorrect binary data format"): sqlx's Any driver sent the NULL as float4.
async fn nulls_then_values_in_the_same_place(url: String) {
    let store = Store::open(&url).await.unwrap();
    let c = store.create_campaign("nulls", "{}", 1).await.unwrap().unwrap();
    let mut ids = Vec::new();
    for (i, h) in ["a", "b"].into_iter().enumerate() {
        store.put_program(&program(h)).await.unwrap();
        ids.push(store.add_candidate(&candidate(c.id, i as i64, h)).await.unwrap().unwrap());
    }
    for (step, val_loss) in [(1, None), (2, Some(4.5)), (3, None), (4, Some(4.0))] {
        let p = primer_store::CurvePoint { step, tokens: 1, flops: 1.0, seconds: 0.1, train_loss: 5.0, val_loss };
        store.add_curve_point(ids[0], &p).await.unwrap();
    }
    let curve = store.curve(ids[0]).await.unwrap();
    assert_eq!(curve.iter().map(|p| p.val_loss).collect::<Vec<_>>(), [None, Some(4.5), None, Some(4.0)]);
    for (fitness, w) in [(None, "w1"), (Some(3.5), "w2")] {
        let claim = store.claim(c.id, w, 60.0).await.unwrap().unwrap();
        assert!(store.finish(claim.candidate, w, &result(fitness)).await.unwrap());
    }
    let h = store.history(c.id).await.unwrap();
    assert_eq!(h.iter().map(|r| r.fitness).collect::<Vec<_>>(), [None, Some(3.5)]);
}

on_both_backends!(nulls_then_values_in_the_same_place);

/// The hurdle's median computed by the store server agrees with the plain reference path
/// (`HalvingHurdles::threshold` over every earlier loss), NaN and infinity included.
async fn checkpoint_median_agrees_with_the_reference(url: String) {
    use primer_evolve::HalvingHurdles;
    let store = Store::open(&url).await.unwrap();
    let c = store.create_campaign("median", "{}", 1).await.unwrap().unwrap();
    let mut x: u64 = 12345;
    let mut rnd = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    for birth in 0..61 {
        let h = format!("m{birth}");
        store.put_program(&program(&h)).await.unwrap();
        let id = store.add_candidate(&candidate(c.id, birth, &h)).await.unwrap().unwrap();
        let loss = match birth {
            7 => f64::NAN,
            13 => f64::INFINITY,
            _ => 2.0 + (rnd() * 100.0).round() / 100.0, // ties happen
        };
        store.add_checkpoint(id, 0, loss).await.unwrap();
        if birth % 3 == 0 {
            store.add_checkpoint(id, 1, loss - 0.1).await.unwrap();
        }
    }
    for window in [0, 5, 12] {
        let h = HalvingHurdles { hurdles: 2, min_predecessors: 5, window, start: 0.0 };
        for k in [0, 1] {
            for before in [0, 1, 4, 8, 9, 14, 15, 30, 33, 61, 100] {
                let earlier = store.checkpoint_losses(c.id, k, before).await.unwrap();
                let (n, median) = store.checkpoint_median(c.id, k, before, window).await.unwrap();
                let finite = earlier.iter().filter(|l| l.is_finite()).count();
                let want_n = if window > 0 { finite.min(window) } else { finite };
                assert_eq!(n as usize, want_n, "k {k} before {before} window {window}");
                let want = h.threshold(&earlier);
                let got = if (n as usize) < h.min_predecessors { None } else { median };
                assert_eq!(got, want, "k {k} before {before} window {window}: {earlier:?}");
                for loss in [1.0, 2.5, 2.99, want.unwrap_or(2.5), f64::NAN] {
                    assert_eq!(h.passes_median(loss, n as usize, median), h.passes(loss, &earlier), "{loss}");
                }
            }
        }
    }
}

on_both_backends!(checkpoint_median_agrees_with_the_reference);

/// Workers register, keep a heartbeat on the server's clock, count the results they record,
/// go stale when silent longer than the lease, and say when they leave.
async fn workers_register_heartbeat_go_stale_and_leave(url: String) {
    let store = Store::open(&url).await.unwrap();
    let c = store.create_campaign("workers", "{}", 1).await.unwrap().unwrap();
    store.put_program(&program("a")).await.unwrap();
    store.add_candidate(&candidate(c.id, 0, "a")).await.unwrap().unwrap();
    for id in ["w1", "w2"] {
        let w =
            primer_store::NewWorker { id: id.into(), campaign: c.id, host: "h".into(), pid: 7, device: "cpu".into() };
        store.register_worker(&w).await.unwrap();
    }
    assert_eq!(store.live_workers(c.id, 30.0).await.unwrap(), 2);
    let claim = store.claim(c.id, "w1", 60.0).await.unwrap().unwrap();
    assert!(store.finish(claim.candidate, "w1", &result(Some(1.0))).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    store.worker_heartbeat("w2").await.unwrap();
    let rows = store.workers(c.id).await.unwrap();
    let w1 = rows.iter().find(|w| w.id == "w1").unwrap();
    let w2 = rows.iter().find(|w| w.id == "w2").unwrap();
    assert_eq!((w1.done, w2.done), (1, 0), "the result is counted for the worker that recorded it");
    assert!(w1.silent >= 0.25 && w2.silent < 0.25, "{} {}", w1.silent, w2.silent);
    assert_eq!((w1.state(0.25), w2.state(0.25)), ("stale", "live"));
    assert_eq!(store.live_workers(c.id, 0.25).await.unwrap(), 1);
    store.worker_exited("w2").await.unwrap();
    assert_eq!(store.workers(c.id).await.unwrap().iter().find(|w| w.id == "w2").unwrap().state(30.0), "exited");
    assert_eq!(store.live_workers(c.id, 30.0).await.unwrap(), 1);
}

on_both_backends!(workers_register_heartbeat_go_stale_and_leave);

/// Who is charged for an attempt that ended without a result (`Ended`'s rule): a stuck worker
/// and one that died alone are charged; a machine whose workers all went silent at once is
/// not; a worker that gives its candidate back (told to stop) never is, however often; and
/// `retry_failed` gives a failed candidate new attempts, keeping its history.
async fn blame_only_what_the_candidate_could_cause(url: String) {
    let store = Store::open(&url).await.unwrap();
    let c = store.create_campaign("blame", "{}", 1).await.unwrap().unwrap();
    let mut ids = Vec::new();
    for (birth, hash) in ["a", "b", "c", "d"].iter().enumerate() {
        store.put_program(&program(hash)).await.unwrap();
        ids.push(store.add_candidate(&candidate(c.id, birth as i64, hash)).await.unwrap().unwrap());
    }
    let worker = |id: &str, host: &str| primer_store::NewWorker {
        id: id.into(),
        campaign: c.id,
        host: host.into(),
        pid: 1,
        device: "cpu".into(),
    };
    for (id, host) in [("stuck", "h1"), ("alone", "h1"), ("lost1", "h2"), ("lost2", "h2"), ("peer", "h1")] {
        store.register_worker(&worker(id, host)).await.unwrap();
    }
    // Leases that have already run out: stuck still answers; alone died while peer (same
    // host) answers; lost1 and lost2 went silent together.
    for w in ["stuck", "alone", "lost1"] {
        store.claim(c.id, w, -1.0).await.unwrap().unwrap();
    }
    primer_store::testing::raw_sql(
        &url,
        &["UPDATE workers SET heartbeat_at = heartbeat_at - 100 WHERE id IN ('alone', 'lost1', 'lost2')"],
    )
    .await;
    assert_eq!(store.requeue(c.id, None, None, 30.0, 5).await.unwrap(), (3, 0));
    let why: std::collections::HashMap<i64, (String, i64)> =
        store.requeues(c.id).await.unwrap().into_iter().map(|r| (r.candidate, (r.reason, r.charged))).collect();
    assert_eq!(why[&ids[0]].1, 1, "{:?}", why[&ids[0]]);
    assert!(why[&ids[0]].0.contains("stuck on it"), "{:?}", why[&ids[0]]);
    assert_eq!(why[&ids[1]].1, 1);
    assert!(why[&ids[1]].0.contains("2 other worker(s) on h1 kept answering"), "{:?}", why[&ids[1]]);
    assert_eq!(why[&ids[2]].1, 0, "{:?}", why[&ids[2]]);
    assert!(why[&ids[2]].0.contains("machine h2 went away"), "{:?}", why[&ids[2]]);
    // A worker told to stop gives the candidate back: never charged, however often.
    for _ in 0..4 {
        let claim = store.claim(c.id, "peer", 30.0).await.unwrap().unwrap();
        assert!(store.release(claim.candidate, "peer", "stopped by signal SIGTERM").await.unwrap());
    }
    assert!(!store.release(ids[3], "peer", "not mine").await.unwrap(), "only the holder gives it back");
    let counts = store.counts(c.id).await.unwrap();
    assert_eq!((counts.pending, counts.failed), (4, 0));
    // Charged attempts up to max_attempts fail a candidate; retry_failed gives it new ones.
    let killed = primer_store::Ended::charged("worker peer was killed by SIGKILL".into());
    let mut failed = 0;
    while failed == 0 {
        let claim = store.claim(c.id, "peer", 30.0).await.unwrap().unwrap();
        failed = store.requeue(c.id, Some("peer"), Some(&killed), 30.0, 2).await.unwrap().1;
        if failed > 0 {
            assert!(
                store
                    .requeues(c.id)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|r| r.candidate == claim.candidate && r.charged == 1)
                    .count()
                    >= 2
            );
        }
    }
    assert_eq!(store.counts(c.id).await.unwrap().failed, 1);
    let history_before = store.requeues(c.id).await.unwrap().len();
    assert_eq!(store.retry_failed(c.id).await.unwrap(), 1);
    assert_eq!(store.counts(c.id).await.unwrap().failed, 0);
    assert_eq!(store.requeues(c.id).await.unwrap().len(), history_before, "the attempt history is kept");
    // Its next charged death is its first since the retry: pending again, not failed.
    let outcomes = store.outcome_counts(c.id).await.unwrap();
    assert!(outcomes.iter().all(|o| o.outcome != Outcome::Failed), "{outcomes:?}");
}

on_both_backends!(blame_only_what_the_candidate_could_cause);

/// Programs are stored once per canonical hash, in the words first given. A campaign copied
/// into a store where another campaign wrote one of its programs in other words (same hash,
/// other text) is the same campaign there: the copy is accepted, and so is a folder of
/// archives holding both (seen with evolution-vs-random's seed 11).
async fn a_program_written_in_other_words_elsewhere_does_not_fail_a_copy(url: String) {
    let dir = std::env::temp_dir().join(format!("primer-store-words-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let source = Store::open(&format!("sqlite://{}", dir.join("source.db").display())).await.unwrap();
    let target = Store::open(&url).await.unwrap();
    for (store, name, text) in [(&target, "first", "# in these words"), (&source, "second", "# in others")] {
        let c = store.create_campaign(name, "{}", 1).await.unwrap().unwrap().id;
        store.put_program(&ProgramRow { text: text.into(), ..program("same") }).await.unwrap();
        store.add_candidate(&candidate(c, 0, "same")).await.unwrap();
    }
    let second = source.campaign("second").await.unwrap().unwrap();
    let copied = source.copy_campaign(second.id, &target).await.unwrap();
    assert_eq!(copied.rows, source.dump_campaign(second.id).await.unwrap().counts());
    // The target keeps the words it had.
    let there = target.campaign("second").await.unwrap().unwrap();
    assert_eq!(target.dump_campaign(there.id).await.unwrap().programs[0].text, "# in these words");
    // Both as archives in one folder open as one store.
    let folder = dir.join("archives");
    std::fs::create_dir_all(&folder).unwrap();
    let first = target.campaign("first").await.unwrap().unwrap();
    target.archive_campaign(first.id, &folder.join("first.archive.json.gz")).await.unwrap();
    source.archive_campaign(second.id, &folder.join("second.archive.json.gz")).await.unwrap();
    let both = Store::open_read(&format!("archive://{}", folder.display())).await.unwrap();
    assert_eq!(both.campaigns().await.unwrap().len(), 2);
}

on_both_backends!(a_program_written_in_other_words_elsewhere_does_not_fail_a_copy);
