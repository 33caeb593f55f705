//! What the commands share: the core's services (history, runs in progress,
//! accounts, catalog) and the runs' progress feeds.

use std::ops::Deref;
use std::sync::Arc;

use easytdv_core::pipeline::{RunEvent, Tracked};
use easytdv_core::services::Services;
use tauri::ipc::Channel;

use crate::feeds::Feeds;

pub struct AppState {
    pub services: Services,
    pub feeds: Feeds,
}

impl AppState {
    pub fn new(services: Services) -> Self {
        Self {
            services,
            feeds: Feeds::default(),
        }
    }

    /// A progress sink for work on a run: events go to the run's feed (kept
    /// for this session, fanned out to every watcher), starting with `channel`.
    /// The run's log lines are kept in the data folder on the way.
    pub fn progress(&self, channel: Channel<RunEvent>) -> Arc<Tracked> {
        self.services.progress(self.feeds.sink(channel))
    }
}

impl Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}
