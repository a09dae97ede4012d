//! Locking std mutexes without panicking: a poisoned lock means some thread
//! panicked while holding it. Every critical section behind these locks is a
//! single insert, remove or lookup in a map, so the data stays consistent;
//! the server logs it and keeps serving rather than panicking in turn.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

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
