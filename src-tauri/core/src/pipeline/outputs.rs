//! Getting the results home: copies a run's outputs from S3 into a folder,
//! several files at once, with progress. Each file is checked against the
//! object over all its bytes (`download.rs`, `integrity.rs`); files already
//! there and whole are kept, and a cut download goes on from its partial
//! file, so an interrupted download resumes where it stopped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::download::{self, Fetched, PART_SUFFIX};
use super::error::PipelineError;
use super::model::RunResources;
use super::storage::{ObjectInfo, RunBucket};
use crate::aws::AwsContext;
use crate::platform;

/// Files fetched at once.
pub const PARALLEL: usize = 4;

#[derive(Debug, Clone, Default, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DownloadProgress {
    pub files_done: u32,
    pub files_total: u32,
    pub bytes_done: f64,
    pub bytes_total: f64,
    /// Seconds left at the current speed, once it can be told.
    pub seconds_left: Option<f64>,
}

#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DownloadReport {
    pub folder: String,
    pub files: u32,
    /// Already complete from an earlier download.
    pub skipped: u32,
    pub bytes: f64,
    /// The run's executed notebook in the folder, when the run was a
    /// notebook's and it came down (set by the caller, who knows the run).
    pub executed_notebook: Option<String>,
    /// Outputs saved under another name because this computer does not
    /// accept theirs (Windows: `aux.txt`, `a:b`), each said in a sentence.
    pub renamed: Vec<String>,
}

pub type OnProgress = dyn Fn(DownloadProgress) + Send + Sync;

/// Downloads every object under the run's `outputs/` into `dir` (keeping
/// sub-folders). Keys that would escape `dir` (`..`, absolute) or end like a
/// partial download are skipped (logged); a name this computer refuses is
/// renamed (reported). Two keys whose paths differ only in case (one file
/// on macOS and Windows) are never fetched at once.
pub async fn download_outputs(
    ctx: &AwsContext,
    res: &RunResources,
    dir: &Path,
    on_progress: &OnProgress,
) -> Result<DownloadReport, PipelineError> {
    let bucket = RunBucket::for_run(ctx, res).await?;
    let prefix = res.outputs_prefix();
    let listed = bucket.list(&prefix).await?;
    let mut names = LocalNames::default();
    let places = names.place_all(
        &listed
            .iter()
            .map(|o| &o.key[prefix.len()..])
            .collect::<Vec<_>>(),
    );
    let objects: Vec<(ObjectInfo, PathBuf)> = listed
        .into_iter()
        .zip(places)
        .filter_map(|(o, place)| match place {
            Some(rel) => Some((o, dir.join(rel))),
            None => {
                tracing::warn!(
                    key = o.key,
                    "an output whose name cannot be a file here is not downloaded"
                );
                None
            }
        })
        .collect();
    let mut progress = DownloadProgress {
        files_total: objects.len() as u32,
        bytes_total: objects.iter().map(|(o, _)| o.size as f64).sum(),
        ..Default::default()
    };
    let mut skipped = 0;
    on_progress(progress.clone());
    let started = Instant::now();
    let mut already = 0.0;
    let mut tasks = tokio::task::JoinSet::new();
    let mut known = res.clone();
    known.account_id = Some(bucket.owner().to_string());
    let shared = Arc::new((ctx.clone(), known));
    let mut queue: VecDeque<(ObjectInfo, PathBuf)> = objects.into();
    let mut busy: HashSet<String> = HashSet::new();
    let fold = |p: &Path| p.to_string_lossy().to_lowercase();
    loop {
        while tasks.len() < PARALLEL {
            let Some(i) = queue.iter().position(|(_, t)| !busy.contains(&fold(t))) else {
                break;
            };
            let Some((obj, target)) = queue.remove(i) else {
                break;
            };
            busy.insert(fold(&target));
            let shared = shared.clone();
            tasks.spawn(async move {
                let (ctx, res) = shared.as_ref();
                let bucket = RunBucket::for_run(ctx, res).await?;
                let fetched = download::fetch(&bucket, &obj, &target).await;
                fetched.map(|f| (f, obj.size, target))
            });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        let (fetched, size, target) =
            done.map_err(|e| PipelineError::State(format!("a download stopped: {e}")))??;
        busy.remove(&fold(&target));
        if fetched == Fetched::AlreadyThere {
            skipped += 1;
            already += size as f64;
        }
        progress.files_done += 1;
        progress.bytes_done += size as f64;
        let secs = started.elapsed().as_secs_f64();
        let speed = (progress.bytes_done - already) / secs.max(0.001);
        progress.seconds_left = (secs > 0.5 && speed > 0.0)
            .then(|| (progress.bytes_total - progress.bytes_done) / speed);
        on_progress(progress.clone());
    }
    Ok(DownloadReport {
        folder: dir.display().to_string(),
        files: progress.files_done,
        skipped,
        bytes: progress.bytes_total,
        executed_notebook: None,
        renamed: names.renamed,
    })
}

/// Where each output goes under the folder, and which were renamed.
#[derive(Default)]
struct LocalNames {
    /// Paths given so far, case-folded (one file on macOS and Windows).
    taken: HashSet<String>,
    renamed: Vec<String>,
}

impl LocalNames {
    /// The path under the folder of each output `key` (relative to the
    /// run's outputs): its `/`-separated parts, each renamed if this
    /// computer refuses it (`platform::local_file_name`). Outputs whose
    /// names are fine keep them; a renamed one takes a name no other has
    /// (`name (2).ext`). `None` for a key that would leave the folder or
    /// end like a partial download.
    fn place_all(&mut self, keys: &[&str]) -> Vec<Option<PathBuf>> {
        let local: Vec<Option<(Vec<String>, bool)>> = keys
            .iter()
            .map(|k| {
                let parts = key_parts(k)?;
                let local: Vec<String> = parts
                    .iter()
                    .map(|p| platform::local_file_name(p).unwrap_or_else(|| p.to_string()))
                    .collect();
                plain(&local)?;
                let kept = local.iter().zip(&parts).all(|(l, p)| l == p);
                Some((local, kept))
            })
            .collect();
        for (parts, _) in local.iter().flatten().filter(|(_, kept)| *kept) {
            self.taken.insert(parts.join("/").to_lowercase());
        }
        // The next number to try for a name (so many outputs renamed alike
        // are numbered in one pass each, not by trying every number again).
        let mut next: HashMap<String, u32> = HashMap::new();
        let mut out = Vec::with_capacity(keys.len());
        for (key, place) in keys.iter().zip(&local) {
            let Some((parts, kept)) = place else {
                out.push(None);
                continue;
            };
            if !kept {
                let base = parts.join("/");
                let mut rel = base.clone();
                let n = next.entry(base.to_lowercase()).or_insert(2);
                while self.taken.contains(&rel.to_lowercase()) || is_partial_name(&rel) {
                    rel = numbered(parts, *n);
                    *n += 1;
                }
                self.taken.insert(rel.to_lowercase());
                self.renamed.push(format!(
                    "{key} was saved as {rel}: this computer does not accept that name"
                ));
                out.push(plain(
                    &rel.split('/').map(str::to_string).collect::<Vec<_>>(),
                ));
                continue;
            }
            out.push(plain(parts));
        }
        out
    }
}

/// Whether a name ends like a partial download's, in any case (one file on
/// macOS and Windows).
fn is_partial_name(name: &str) -> bool {
    name.to_lowercase().ends_with(PART_SUFFIX)
}

/// A key's `/`-separated parts: none empty, `.` or `..`, and not a partial
/// download's name.
fn key_parts(key: &str) -> Option<Vec<&str>> {
    if key.is_empty() || is_partial_name(key) {
        return None;
    }
    let parts: Vec<&str> = key.split('/').collect();
    parts
        .iter()
        .all(|p| !p.is_empty() && *p != "." && *p != "..")
        .then_some(parts)
}

/// The path the parts make when, by this computer's rules, it is one plain
/// name per part: no root, drive (`C:`) or parent, no part that is itself a
/// path. Checked on the names as they will be written (after renaming).
fn plain(parts: &[String]) -> Option<PathBuf> {
    let path: PathBuf = parts.iter().collect();
    let ok = path.components().count() == parts.len()
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then_some(path)
}

/// `a/b/name (n).ext` from the parts `a`, `b`, `name.ext`.
fn numbered(parts: &[String], n: u32) -> String {
    let (last, dirs) = parts
        .split_last()
        .map_or(("", &[][..]), |(l, d)| (l.as_str(), d));
    let name = match last.rsplit_once('.').filter(|(stem, _)| !stem.is_empty()) {
        Some((stem, ext)) => format!("{stem} ({n}).{ext}"),
        None => format!("{last} ({n})"),
    };
    dirs.iter()
        .map(String::as_str)
        .chain([name.as_str()])
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(key: &str) -> Option<PathBuf> {
        LocalNames::default().place_all(&[key]).remove(0)
    }

    #[test]
    fn keys_cannot_escape_the_folder() {
        assert_eq!(one("model.json"), Some(PathBuf::from("model.json")));
        assert_eq!(
            one("_logs/train.log"),
            Some(["_logs", "train.log"].iter().collect())
        );
        for bad in [
            "",
            "../etc/passwd",
            "/abs",
            "a/../../b",
            "a/./b",
            "a//b",
            "dir/",
            "model.pt.easytdv-part",
            "model.pt.EASYTDV-PART",
        ] {
            assert_eq!(one(bad), None, "{bad}");
        }
        // A drive, a UNC or a backslash path is one plain name wherever it
        // is kept: renamed on Windows, a name with odd characters elsewhere.
        for odd in [
            "C:/x",
            "C:x",
            "\\\\server\\share",
            "a\\..\\..\\b",
            "\\\\?\\C:\\w",
        ] {
            let placed = one(odd).unwrap_or_else(|| panic!("{odd}"));
            assert!(
                placed
                    .components()
                    .all(|c| matches!(c, Component::Normal(_))),
                "{odd} -> {placed:?}"
            );
            assert_eq!(placed.components().count(), odd.split('/').count(), "{odd}");
        }
    }

    #[test]
    fn many_outputs_renamed_alike_get_numbers_in_turn() {
        if !cfg!(windows) {
            return; // nothing is renamed elsewhere
        }
        // 256 different keys that all become `data________`.
        let keys: Vec<String> = (0..256u32)
            .map(|i| {
                let odd: String = (0..8)
                    .map(|b| if i >> b & 1 == 1 { ':' } else { '?' })
                    .collect();
                format!("data{odd}")
            })
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut names = LocalNames::default();
        let placed = names.place_all(&keys);
        let distinct: HashSet<_> = placed.iter().flatten().collect();
        assert_eq!(distinct.len(), 256);
        assert_eq!(names.renamed.len(), 256);
    }

    #[test]
    fn names_this_computer_refuses_are_renamed_and_told() {
        let mut names = LocalNames::default();
        let keys = [
            "model/weights.pt",
            "aux.txt",
            "run:1/log.",
            "_aux.txt",
            "../x",
            "a/b",
        ];
        let placed = names.place_all(&keys);
        let path = |p: &str| Some(p.split('/').collect::<PathBuf>());
        assert_eq!(placed[0], path("model/weights.pt"));
        assert_eq!(placed[4], None, "never outside the folder");
        if cfg!(windows) {
            // `_aux.txt` is the user's own name: `aux.txt` takes another.
            assert_eq!(placed[1], path("_aux (2).txt"));
            assert_eq!(placed[2], path("run_1/log_"));
            assert_eq!(placed[3], path("_aux.txt"));
            assert_eq!(names.renamed.len(), 2, "{:?}", names.renamed);
            assert!(names.renamed[0].starts_with("aux.txt was saved as _aux (2).txt"));
        } else {
            for i in [1, 2, 3, 5] {
                assert_eq!(placed[i], path(keys[i]));
            }
            assert!(names.renamed.is_empty());
        }
    }

    #[test]
    fn a_second_name_keeps_its_extension() {
        let parts = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(numbered(&parts(&["d", "a.tar"]), 2), "d/a (2).tar");
        assert_eq!(numbered(&parts(&["_aux"]), 3), "_aux (3)");
        assert_eq!(numbered(&parts(&[".env"]), 2), ".env (2)");
    }
}
