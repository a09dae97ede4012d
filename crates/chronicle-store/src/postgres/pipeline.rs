//! Statements of one transaction sent together (see `Pipeline`).

use crate::BoxFuture;
use deadpool_postgres::Transaction;
use std::task::Poll;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

/// Statements sent to the server together and awaited together. The
/// server runs them one after the other, in the order sent, so this means
/// what running them in turn means, in one round trip instead of one per
/// statement. Every statement is prepared before any is sent: one
/// prepared on the way would go out after those queued behind it.
#[derive(Default)]
pub(crate) struct Pipeline<'a> {
    sent: Vec<BoxFuture<'a, Result<u64, tokio_postgres::Error>>>,
}

impl<'a> Pipeline<'a> {
    /// Queues a prepared statement with its parameters; its index in the
    /// pipeline is returned.
    pub(crate) fn execute(
        &mut self,
        tx: &'a Transaction<'a>,
        statement: &'a Statement,
        params: Vec<&'a (dyn ToSql + Sync)>,
    ) -> usize {
        self.sent.push(Box::pin(tx.execute_raw(statement, params)));
        self.sent.len() - 1
    }

    /// Sends every statement (a future sends its statement when first
    /// polled, and each pass polls them in order) and waits for the rows
    /// each touched. On an error, the statements before the first failing
    /// one are still awaited, so their counts can tell a lost condition
    /// from the errors it causes later in the transaction.
    pub(crate) async fn run(mut self) -> (Vec<Option<u64>>, Option<tokio_postgres::Error>) {
        let mut counts: Vec<Option<u64>> = vec![None; self.sent.len()];
        let mut failed: Option<(usize, tokio_postgres::Error)> = None;
        std::future::poll_fn(|cx| {
            let end = failed.as_ref().map_or(self.sent.len(), |(at, _)| *at);
            let mut waiting = false;
            for (i, statement) in self.sent.iter_mut().enumerate().take(end) {
                if counts[i].is_some() {
                    continue;
                }
                match statement.as_mut().poll(cx) {
                    Poll::Ready(Ok(n)) => counts[i] = Some(n),
                    Poll::Ready(Err(e)) => {
                        if failed.as_ref().is_none_or(|(at, _)| i < *at) {
                            failed = Some((i, e));
                        }
                        break;
                    }
                    Poll::Pending => waiting = true,
                }
            }
            let end = failed.as_ref().map_or(self.sent.len(), |(at, _)| *at);
            if waiting || counts[..end].iter().any(Option::is_none) { Poll::Pending } else { Poll::Ready(()) }
        })
        .await;
        (counts, failed.map(|(_, e)| e))
    }
}
