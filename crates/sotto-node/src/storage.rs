//! The node's store on a thread of its own, off the async workers: handlers send it jobs
//! through a bounded queue and await their answers. The thread runs the jobs queued together
//! in one transaction (group commit: one fsync for many writes), each job in its own savepoint
//! so that one that fails undoes only its own changes, and answers each job only once its
//! transaction is committed. Nothing holds a lock on the database across an `.await`: the
//! thread owns the connection, and async code only ever waits on a channel.

use sotto_store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::error::NodeError;

/// Jobs waiting for the store thread at most; a handler that finds the queue full waits for
/// room (back-pressure instead of unbounded memory).
pub const QUEUE_DEPTH: usize = 1024;
/// The most jobs committed in one transaction.
pub const MAX_GROUP: usize = 256;

/// Answers a job's caller, told whether the job's transaction failed to commit.
type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;
/// A job: runs on the store and returns how to answer its caller.
type Job = Box<dyn FnOnce(&mut Store) -> Finish + Send>;

/// The handle to the store thread. Cheap to clone; the thread ends when every handle is gone.
#[derive(Clone)]
pub struct StoreThread {
    jobs: mpsc::Sender<Job>,
}

impl core::fmt::Debug for StoreThread {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StoreThread")
    }
}

/// The error a write gets when the transaction it was made in was not committed.
fn lost(e: &StoreError) -> StoreError {
    match e {
        StoreError::Full => StoreError::Full,
        _ => StoreError::NotCommitted,
    }
}

impl StoreThread {
    /// Starts the thread that owns `store`.
    pub fn start(store: Store) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        std::thread::Builder::new()
            .name("sotto-store".into())
            .spawn(move || serve(store, queue))?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the store thread and returns its result once its transaction is committed.
    pub async fn run<T, F>(&self, f: F) -> Result<T, NodeError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |store| {
            let result = f(store);
            Box::new(move |failed: Option<&StoreError>| {
                let result = match (result, failed) {
                    (Ok(_), Some(e)) => Err(lost(e)),
                    (result, _) => result,
                };
                let _ = answer.send(result);
            })
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| NodeError::StorageStopped)?;
        Ok(answered.await.map_err(|_| NodeError::StorageStopped)??)
    }
}

/// The store thread: takes the jobs queued together (up to [`MAX_GROUP`]) and runs them as
/// one group.
fn serve(mut store: Store, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        run_group(&mut store, group);
    }
}

/// Runs `group` in one transaction and answers every job after the commit. A lone job runs by
/// itself (its own savepoint is its transaction). If SQLite rolls the group's transaction back
/// part-way (a full disk does), the jobs run in it so far lose their writes and are answered
/// with an error; the rest start a new group.
fn run_group(store: &mut Store, group: Vec<Job>) {
    if group.len() == 1 {
        for job in group {
            job(store)(None);
        }
        return;
    }
    let mut grouped = begin(store);
    let mut pending: Vec<Finish> = Vec::with_capacity(group.len());
    for job in group {
        let finish = job(store);
        if !grouped {
            finish(None);
        } else if store.in_group() {
            pending.push(finish);
        } else {
            tracing::warn!(
                writes = pending.len() + 1,
                "the store rolled back a group transaction"
            );
            for f in pending.drain(..) {
                f(Some(&StoreError::NotCommitted));
            }
            finish(Some(&StoreError::NotCommitted));
            grouped = begin(store);
        }
    }
    if grouped {
        match store.commit_group() {
            Ok(()) => pending.into_iter().for_each(|f| f(None)),
            Err(e) => {
                tracing::warn!(error = %e, "a group transaction did not commit");
                let _ = store.rollback_group();
                pending.into_iter().for_each(|f| f(Some(&e)));
            }
        }
    }
}

fn begin(store: &mut Store) -> bool {
    match store.begin_group() {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "cannot start a group transaction; writing one by one");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_identity::{IdPrefix, PrefixedId};
    use sotto_store::{NewMessage, RetrieveLimits};

    fn msg(n: u8, hash: &str) -> NewMessage {
        NewMessage {
            owner: PrefixedId::new(IdPrefix::Standard, [n; 32]),
            swarm_space: 7,
            namespace: 1,
            hash: hash.into(),
            timestamp_ms: 1,
            expiry_ms: 1_000_000,
            data: hash.as_bytes().to_vec(),
        }
    }

    /// Many concurrent writers: every write is answered once committed, each failing write
    /// (over its account's quota) fails alone, and a reader on another connection sees
    /// exactly the acknowledged writes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_are_grouped_and_each_answered_after_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut store = Store::open(&path, 64 << 20).unwrap();
        store.set_quota(sotto_store::Quota {
            account_bytes: 1 << 20,
            account_messages: 10,
        });
        let thread = StoreThread::start(store).unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..400u32 {
            let thread = thread.clone();
            tasks.spawn(async move {
                let owner = u8::try_from(i % 20).unwrap();
                let m = msg(owner, &format!("h{i}"));
                (i, thread.run(move |s| s.store(&m, false)).await)
            });
        }
        let mut ok = Vec::new();
        let mut refused = 0;
        while let Some(done) = tasks.join_next().await {
            match done.unwrap() {
                (i, Ok(_)) => ok.push(i),
                (_, Err(NodeError::Store(StoreError::QuotaExceeded))) => refused += 1,
                (_, Err(e)) => panic!("{e}"),
            }
        }
        // 20 accounts of 10 messages each.
        assert_eq!(ok.len(), 200);
        assert_eq!(refused, 200);
        let reader = Store::open(&path, 64 << 20).unwrap();
        let mut seen = 0;
        for n in 0..20u8 {
            let page = reader
                .retrieve(
                    &PrefixedId::new(IdPrefix::Standard, [n; 32]),
                    1,
                    None,
                    RetrieveLimits::default(),
                    0,
                )
                .unwrap();
            for m in &page.messages {
                let i: u32 = m.hash.trim_start_matches('h').parse().unwrap();
                assert!(ok.contains(&i), "{i} stored but refused");
            }
            seen += page.messages.len();
        }
        assert_eq!(seen, 200);
    }

    #[tokio::test]
    async fn a_stopped_thread_is_a_typed_error() {
        let (jobs, queue) = mpsc::channel(1);
        drop(queue);
        let thread = StoreThread { jobs };
        assert!(matches!(
            thread.run(|s| s.usage()).await,
            Err(NodeError::StorageStopped)
        ));
    }
}
