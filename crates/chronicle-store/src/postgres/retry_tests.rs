//! Transactions the database refuses for contention are run again whole,
//! a bounded number of times; what the failed tries wrote is gone.

#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test

use super::connection::{ATTEMPTS, Db};
use crate::StoreError;
use std::sync::atomic::{AtomicU32, Ordering};

use super::test_database;

/// Fails with `code` (by raising it) on the tries before `succeed_from`.
struct Script {
    code: &'static str,
    succeed_from: u32,
    tries: AtomicU32,
}

async fn run(db: &Db, script: &Script) -> Result<(), StoreError> {
    db.transaction(script, |tx, script| {
        Box::pin(async move {
            tx.batch_execute("INSERT INTO tries VALUES (1)").await?;
            if script.tries.fetch_add(1, Ordering::SeqCst) + 1 < script.succeed_from {
                let raise = format!("DO $$ BEGIN RAISE EXCEPTION 'scripted' USING ERRCODE = '{}'; END $$", script.code);
                tx.batch_execute(&raise).await?;
            }
            Ok(())
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contention_is_retried_whole_a_bounded_number_of_times() {
    let Some(database) = test_database::TestDatabase::create().await else { return };
    let admin = database.client().await;
    admin.batch_execute("CREATE TABLE tries (n INT)").await.unwrap();
    let db = Db::new(&database.url, 2).unwrap();
    let rows = || async { admin.query_one("SELECT COUNT(*) FROM tries", &[]).await.unwrap().get::<_, i64>(0) };

    for code in ["40001", "40P01"] {
        admin.batch_execute("DELETE FROM tries").await.unwrap();
        let script = Script { code, succeed_from: 3, tries: AtomicU32::new(0) };
        assert_eq!(run(&db, &script).await, Ok(()), "{code}");
        assert_eq!(script.tries.load(Ordering::SeqCst), 3, "{code}: two failed tries, then one that committed");
        assert_eq!(rows().await, 1, "{code}: the failed tries left nothing");
    }

    admin.batch_execute("DELETE FROM tries").await.unwrap();
    let hopeless = Script { code: "40001", succeed_from: u32::MAX, tries: AtomicU32::new(0) };
    let result = run(&db, &hopeless).await;
    assert!(matches!(&result, Err(StoreError::Unavailable(m)) if m.contains("40001")), "{result:?}");
    assert_eq!(hopeless.tries.load(Ordering::SeqCst), ATTEMPTS);
    assert_eq!(rows().await, 0);

    // Anything else is not retried.
    let other = Script { code: "22012", succeed_from: u32::MAX, tries: AtomicU32::new(0) };
    let result = run(&db, &other).await;
    assert!(matches!(&result, Err(StoreError::Internal(m)) if m.contains("22012")), "{result:?}");
    assert_eq!(other.tries.load(Ordering::SeqCst), 1);
}
