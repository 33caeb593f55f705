//! Files the app carries (tauri.conf.json `bundle.resources`): the practice
//! cloud's sources and the example to try. A debug build run from the
//! repository falls back to the source folders.

use std::path::{Path, PathBuf};

pub struct Resources {
    dir: Option<PathBuf>,
}

impl Resources {
    pub fn new(context: &tauri::Context<tauri::Wry>) -> Self {
        let dir = tauri::utils::platform::resource_dir(context.package_info(), &tauri::Env::default())
            .map_err(|e| tracing::warn!(error = %e, "no resource folder; the practice cloud and the example may be missing"))
            .ok();
        Self { dir }
    }

    /// `bundled` under the resource folder, else (debug builds only) `source`
    /// in the repository; the first that exists.
    fn find(&self, bundled: &str, source: &str) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.dir.iter().map(|d| d.join(bundled)).collect();
        if cfg!(debug_assertions) {
            out.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(source));
        }
        out
    }

    /// Candidate folders for the practice cloud's sources.
    pub fn sandbox(&self) -> Vec<PathBuf> {
        self.find("sandbox", "tests/sandbox")
    }

    /// The example's folder (train.py and requirements.txt), if present.
    pub fn example(&self) -> Option<PathBuf> {
        self.find("examples/digits", "examples/digits")
            .into_iter()
            .find(|d| d.join("train.py").is_file())
    }
}
