//! What the commands share: the core's services (history, runs in progress,
//! accounts, catalog), the runs' progress feeds, the practice cloud and
//! the files the app carries.

use std::ops::Deref;
use std::sync::Arc;

use easytdv_core::chosen::Chosen;
use easytdv_core::pipeline::{RunEvent, Tracked};
use easytdv_core::practice::PracticeCloud;
use easytdv_core::services::Services;
use tauri::ipc::Channel;

use crate::feeds::Feeds;
use crate::resources::Resources;

pub struct AppState {
    pub services: Services,
    pub feeds: Feeds,
    pub practice: Arc<PracticeCloud>,
    pub resources: Resources,
    /// The files and folders the webview may name by path.
    pub chosen: Chosen,
}

impl AppState {
    pub fn new(services: Services, resources: Resources) -> Self {
        let sources = PracticeCloud::find_sources(resources.sandbox());
        let chosen = Chosen::default();
        chosen.add_folder(&services.data_dir);
        Self {
            chosen,
            practice: Arc::new(PracticeCloud::new(&services.data_dir, sources)),
            services,
            feeds: Feeds::default(),
            resources,
        }
    }

    /// A progress sink for work on a run: events go to the run's feed (kept
    /// for this session, fanned out to every watcher), starting with `channel`.
    /// The run's log lines are kept in the data folder on the way.
    pub fn progress(&self, channel: Channel<RunEvent>) -> Arc<Tracked> {
        self.services.progress(self.feeds.sink(channel))
    }

    /// A new progress sink per run of a sweep: events go to each run's feed
    /// (a run page opened on it watches it), with no first watcher.
    pub fn quiet_progress(&self) -> easytdv_core::sweep::ProgressFactory {
        let feeds = self.feeds.clone();
        self.services
            .progress_factory(move || feeds.unwatched_sink())
    }
}

impl Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}
