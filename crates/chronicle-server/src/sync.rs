//! Locking std mutexes without panicking: a poisoned lock means some thread
//! panicked while holding it. Every critical section behind these locks is a
//! single insert, remove or lookup in a map, so the data stays consistent;
//! the server logs it and keeps serving rather than panicking in turn.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| {
        tracing::error!("a lock was poisoned by a panic elsewhere; continuing with its data");
        poisoned.into_inner()
    })
}

pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| {
        tracing::error!("a lock was poisoned by a panic elsewhere; continuing with its data");
        poisoned.into_inner()
    })
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| {
        tracing::error!("a lock was poisoned by a panic elsewhere; continuing with its data");
        poisoned.into_inner()
    })
}

/// One async lock per key (a workflow id, a schedule), kept only while
/// somebody holds or waits for it.
pub(crate) struct KeyedLocks<K> {
    locks: Mutex<HashMap<K, Weak<tokio::sync::Mutex<()>>>>,
}

impl<K> Default for KeyedLocks<K> {
    fn default() -> Self {
        KeyedLocks { locks: Mutex::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash> KeyedLocks<K> {
    pub(crate) async fn lock(&self, key: K) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = lock(&self.locks);
            match locks.get(&key).and_then(Weak::upgrade) {
                Some(held) => held,
                None => {
                    locks.retain(|_, w| w.strong_count() > 0);
                    let fresh = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(key, Arc::downgrade(&fresh));
                    fresh
                }
            }
        };
        lock.lock_owned().await
    }
}
