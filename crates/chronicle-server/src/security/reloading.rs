//! A value built from files and built again when they change (the API key
//! file, the TLS certificates): the files' modification times and sizes are
//! looked at every `RELOAD_EVERY`; a rebuild that fails keeps the previous
//! value in force and logs why.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

/// How often the files are looked at for changes.
pub const RELOAD_EVERY: Duration = Duration::from_secs(1);

type Stamps = Vec<Option<(SystemTime, u64)>>;
type Build<T> = Box<dyn Fn() -> anyhow::Result<T> + Send + Sync>;

pub struct Reloading<T> {
    /// What the files hold, for the logs ("auth keys").
    what: &'static str,
    paths: Vec<PathBuf>,
    build: Build<T>,
    current: RwLock<Arc<T>>,
    seen: Mutex<Stamps>,
}

fn stamps(paths: &[PathBuf]) -> Stamps {
    paths.iter().map(|path| std::fs::metadata(path).ok().and_then(|m| Some((m.modified().ok()?, m.len())))).collect()
}

impl<T: Send + Sync + 'static> Reloading<T> {
    /// Builds the value (it must build now) and watches its files while
    /// the returned handle is in use.
    pub fn load(
        what: &'static str,
        paths: Vec<PathBuf>,
        build: impl Fn() -> anyhow::Result<T> + Send + Sync + 'static,
    ) -> anyhow::Result<Arc<Self>> {
        // Stamped before building: a change made meanwhile is seen next time.
        let seen = stamps(&paths);
        let value = build()?;
        let me = Arc::new(Reloading {
            what,
            paths,
            build: Box::new(build),
            current: RwLock::new(Arc::new(value)),
            seen: Mutex::new(seen),
        });
        let watched = Arc::downgrade(&me);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RELOAD_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let Some(me) = watched.upgrade() else { return };
                me.reload_if_changed();
            }
        });
        Ok(me)
    }

    /// The value in force now.
    pub fn current(&self) -> Arc<T> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn reload_if_changed(&self) {
        let now = stamps(&self.paths);
        {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if *seen == now {
                return;
            }
            *seen = now;
        }
        match (self.build)() {
            Ok(value) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(value);
                tracing::info!(files = ?self.paths, "{} reloaded", self.what);
            }
            Err(e) => tracing::error!("{} not reloaded, the previous ones stay in force: {e:#}", self.what),
        }
    }
}
