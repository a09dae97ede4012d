//! The single writer thread and its group commit: every request waiting
//! when a transaction starts (up to `COMMIT_GROUP_WRITES_MAX`) joins it,
//! each in its own savepoint so one failing request does not fail its
//! neighbours; and the reader threads, each with its own connection.

use super::{error, executions, keyed, namespaces, schedules, search_attributes};
use crate::{ExecutionWrite, NamespaceRecord, Result};
use rusqlite::Connection;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

pub(crate) type Job = Box<dyn FnOnce(&mut Connection) + Send>;

pub(crate) enum WriteJob {
    /// Writes, the reply, and the caller's span (to link the group's).
    Commit(Vec<ExecutionWrite>, oneshot::Sender<Result<()>>, tracing::Span),
    Namespace(NamespaceRecord, oneshot::Sender<Result<()>>),
    SearchAttributes(search_attributes::Change, oneshot::Sender<Result<()>>),
    Schedule(schedules::Change, oneshot::Sender<Result<()>>),
    Keyed(Box<crate::keyed::KeyedWrite>, oneshot::Sender<Result<()>>),
    /// Replace an existing namespace record.
    UpdateNamespace(NamespaceRecord, oneshot::Sender<Result<()>>),
    Read(Job),
    /// Writes in a transaction of its own, after the group's (deleting runs).
    Alone(Job),
}

/// Requests waiting for the writer (or the readers) at most: callers wait
/// for room (backpressure) rather than pile requests up in memory when
/// the disk falls behind.
pub(crate) const QUEUED_JOBS_MAX: usize = 4096;

pub(crate) fn spawn_writer(conn: Connection) -> std::io::Result<mpsc::Sender<WriteJob>> {
    let (tx, rx) = mpsc::channel::<WriteJob>(QUEUED_JOBS_MAX);
    std::thread::Builder::new().name("sqlite-writer".into()).spawn(move || writer_loop(conn, rx))?;
    Ok(tx)
}

/// Reader threads sharing one queue of read jobs.
pub(crate) fn spawn_readers(
    mut open: impl FnMut() -> rusqlite::Result<Connection>,
    readers: usize,
) -> Result<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>(QUEUED_JOBS_MAX);
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..readers {
        let mut conn = open().map_err(error)?;
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("sqlite-reader-{i}"))
            .spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(mut rx) => rx.blocking_recv(),
                        Err(_) => return,
                    };
                    match job {
                        Some(job) => job(&mut conn),
                        None => return,
                    }
                }
            })
            .map_err(|e| crate::StoreError::Internal(e.to_string()))?;
    }
    Ok(tx)
}

fn writer_loop(mut conn: Connection, mut rx: mpsc::Receiver<WriteJob>) {
    while let Some(first) = rx.blocking_recv() {
        let mut group = vec![first];
        while group.len() < chronicle_engine::limits::COMMIT_GROUP_WRITES_MAX {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut reads = Vec::new();
        let mut writes = Vec::new();
        let mut alone = Vec::new();
        for job in group {
            match job {
                WriteJob::Read(job) => reads.push(job),
                WriteJob::Alone(job) => alone.push(job),
                other => writes.push(other),
            }
        }
        for job in reads {
            job(&mut conn);
        }
        if !writes.is_empty() {
            commit_group(&mut conn, writes);
        }
        // After the group: live commits waiting with a deletion go first.
        for job in alone {
            job(&mut conn);
        }
    }
}

/// One transaction for the whole group; each request in its own savepoint
/// so a lost condition fails only that request.
fn commit_group(conn: &mut Connection, jobs: Vec<WriteJob>) {
    let began = std::time::Instant::now();
    let span = tracing::info_span!(
        target: crate::observe::TRACES_TARGET,
        "group commit",
        otel.name = "SqliteGroupCommit",
        component = "persistence",
        requests = jobs.len() as i64,
    );
    for job in &jobs {
        if let WriteJob::Commit(_, _, caller) = job {
            span.follows_from(caller);
        }
    }
    let _in_span = span.enter();
    let mut results: Vec<(oneshot::Sender<Result<()>>, Result<()>)> = Vec::with_capacity(jobs.len());
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            let e = error(e);
            for job in jobs {
                reply(job, Err(e.clone()));
            }
            return;
        }
    };
    for job in jobs {
        let (reply_to, outcome) = match job {
            WriteJob::Commit(writes, reply_to, _) => {
                (reply_to, in_savepoint(&tx, |sp| writes.iter().try_for_each(|w| executions::write(sp, w))))
            }
            WriteJob::Namespace(ns, reply_to) => (reply_to, in_savepoint(&tx, |sp| namespaces::insert(sp, &ns))),
            WriteJob::SearchAttributes(change, reply_to) => {
                (reply_to, in_savepoint(&tx, |sp| search_attributes::apply(sp, &change)))
            }
            WriteJob::UpdateNamespace(ns, reply_to) => (reply_to, in_savepoint(&tx, |sp| namespaces::update(sp, &ns))),
            WriteJob::Schedule(change, reply_to) => (reply_to, in_savepoint(&tx, |sp| schedules::apply(sp, &change))),
            WriteJob::Keyed(write, reply_to) => (reply_to, in_savepoint(&tx, |sp| keyed::write(sp, &write))),
            WriteJob::Read(_) | WriteJob::Alone(_) => continue, // split off before committing
        };
        results.push((reply_to, outcome));
    }
    match tx.commit() {
        Ok(()) => {
            crate::observe::group_committed(results.len(), began.elapsed());
            for (reply_to, outcome) in results {
                let _ = reply_to.send(outcome);
            }
        }
        Err(e) => {
            let e = error(e);
            for (reply_to, _) in results {
                let _ = reply_to.send(Err(e.clone()));
            }
        }
    }
}

fn reply(job: WriteJob, outcome: Result<()>) {
    match job {
        WriteJob::Commit(_, r, _)
        | WriteJob::Namespace(_, r)
        | WriteJob::SearchAttributes(_, r)
        | WriteJob::Schedule(_, r)
        | WriteJob::Keyed(_, r)
        | WriteJob::UpdateNamespace(_, r) => {
            let _ = r.send(outcome);
        }
        WriteJob::Read(_) | WriteJob::Alone(_) => {}
    }
}

fn in_savepoint(
    tx: &rusqlite::Transaction<'_>,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<()>,
) -> Result<()> {
    tx.execute_batch("SAVEPOINT req").map_err(error)?;
    match f(tx) {
        Ok(()) => tx.execute_batch("RELEASE req").map_err(error),
        Err(e) => {
            tx.execute_batch("ROLLBACK TO req; RELEASE req").map_err(error)?;
            Err(e)
        }
    }
}
