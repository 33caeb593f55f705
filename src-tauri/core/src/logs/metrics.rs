//! Numbers a training script prints, picked up without any change to the
//! script: `epoch 3 loss 0.21 acc 0.93`, `loss=0.21`, `loss: 0.21`, JSON
//! lines, Python dicts (Hugging Face Trainer), Keras and tqdm progress
//! lines, PyTorch's `Epoch [1/10], Step [100/600], Loss: 0.23`,
//! scikit-learn's `Iteration 3, loss = 0.41`. A line
//! `easytdv: metric loss=0.21 step=3` forces values when guessing fails.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::line::LogLine;

/// One value of one metric.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MetricPoint {
    pub name: String,
    pub value: f64,
    /// The step, epoch or iteration the script named; `None`: use the time.
    pub step: Option<f64>,
    pub at_ms: f64,
}

/// Keys that say where in the training a line is (the x axis).
const STEP_KEYS: &[&str] = &[
    "step",
    "global_step",
    "iteration",
    "iter",
    "it",
    "epoch",
    "batch",
];

/// Keys that are about the machinery, not the model.
fn is_noise(key: &str) -> bool {
    const NOISE: &[&str] = &[
        "eta",
        "time",
        "elapsed",
        "remaining",
        "v_num",
        "rate",
        "speed",
        "mem",
        "memory",
        "gpu_mem",
        "batch_size",
        "bs",
        "seed",
        "pid",
        "port",
        "version",
        "python",
        "torch",
        "total_flos",
        "workers",
        "num_workers",
        "gpus",
        "gpu",
        "cpu",
        "cpus",
        "size",
        "n",
        "ms",
        "s",
        "dim",
        "hidden",
        "layers",
        "samples",
        "total",
        "of",
        "in",
        "at",
        "to",
    ];
    let k = key.to_ascii_lowercase();
    NOISE.contains(&k.as_str())
        || k.ends_with("_per_second")
        || k.ends_with("runtime")
        || k.contains("/s")
        || k.contains("/step")
        || k.len() > 40
}

/// Keys that read as a metric even in the bare `key value` form.
fn looks_like_metric(key: &str) -> bool {
    const KNOWN: &[&str] = &[
        "loss",
        "acc",
        "accuracy",
        "lr",
        "learning_rate",
        "f1",
        "precision",
        "recall",
        "auc",
        "mae",
        "mse",
        "rmse",
        "score",
        "perplexity",
        "ppl",
        "bleu",
        "reward",
        "error",
        "err",
        "top1",
        "top5",
        "dice",
        "iou",
        "map",
        "r2",
        "grad_norm",
    ];
    let k = key.to_ascii_lowercase();
    KNOWN.contains(&k.as_str())
        || k.contains("loss")
        || k.contains("acc")
        || k.starts_with("val_")
        || k.starts_with("test_")
        || k.starts_with("train_")
        || k.starts_with("eval_")
}

const NUMBER: &str = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|NaN|inf";

static KEY_SEP_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?:^|[\s,;|\[(\-{{])([A-Za-z_][A-Za-z0-9_./-]*)\s*(?:=|:)\s*({NUMBER})(?:/\d+)?"
    ))
    .unwrap_or_else(|e| panic!("metric pattern: {e}"))
});
static KEY_SPACE_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?:^|[\s,;|\[(])([A-Za-z_][A-Za-z0-9_]*)\s+\[?({NUMBER})(?:\s*/\s*\d+)?\]?"
    ))
    .unwrap_or_else(|e| panic!("metric pattern: {e}"))
});
static KERAS_EPOCH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*Epoch (\d+)/(\d+)\s*$").unwrap_or_else(|e| panic!("keras pattern: {e}"))
});

fn number(text: &str) -> Option<f64> {
    match text {
        "nan" | "NaN" => Some(f64::NAN),
        "inf" => Some(f64::INFINITY),
        t => t.parse().ok(),
    }
}

/// Reads metrics line after line (Keras names the epoch on a line of its
/// own, before the values).
#[derive(Debug, Default, Clone)]
pub struct MetricParser {
    keras_epoch: Option<f64>,
}

impl MetricParser {
    pub fn parse(&mut self, line: &LogLine) -> Vec<MetricPoint> {
        let text = line.text.trim();
        if text.is_empty() {
            return Vec::new();
        }
        if let Some(c) = KERAS_EPOCH.captures(text) {
            self.keras_epoch = c.get(1).and_then(|m| number(m.as_str()));
            return Vec::new();
        }
        let pairs = if let Some(forced) = text.strip_prefix("easytdv: metric ") {
            pairs_sep(forced, true)
        } else if text.starts_with("easytdv:") {
            return Vec::new();
        } else if text.starts_with('{') {
            match dict_pairs(text) {
                Some(p) => p,
                None => return Vec::new(),
            }
        } else {
            let mut p = pairs_sep(text, false);
            for (k, v) in pairs_space(text) {
                if !p.iter().any(|(pk, _)| pk.eq_ignore_ascii_case(&k)) {
                    p.push((k, v));
                }
            }
            p
        };
        self.points(pairs, line.at_ms, text)
    }

    fn points(&self, pairs: Vec<(String, f64)>, at_ms: f64, text: &str) -> Vec<MetricPoint> {
        let mut step = None;
        for wanted in STEP_KEYS {
            if let Some((_, v)) = pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(wanted)) {
                step = Some(*v);
                break;
            }
        }
        let keras_line = text.contains("/step") || text.contains('━') || text.contains("[==");
        if step.is_none() && keras_line {
            step = self.keras_epoch;
        }
        pairs
            .into_iter()
            .filter(|(k, _)| !STEP_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s)))
            .map(|(name, value)| MetricPoint {
                name,
                value,
                step,
                at_ms,
            })
            .collect()
    }
}

/// True when a match ends where a value may end (not inside `3ms`).
fn ends_well(text: &str, end: usize) -> bool {
    text[end..]
        .chars()
        .next()
        .is_none_or(|c| c.is_whitespace() || ",;:|])}".contains(c))
}

/// `key=value` and `key: value` pairs.
fn pairs_sep(text: &str, forced: bool) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for c in KEY_SEP_VALUE.captures_iter(text) {
        let (Some(all), Some(k), Some(v)) = (c.get(0), c.get(1), c.get(2)) else {
            continue;
        };
        if !ends_well(text, all.end()) {
            continue;
        }
        let key = k.as_str().trim_end_matches(['.', '/', '-']).to_string();
        if (!forced && is_noise(&key)) || key.is_empty() {
            continue;
        }
        if let Some(v) = number(v.as_str()) {
            out.retain(|(pk, _)| pk != &key);
            out.push((key, v));
        }
    }
    out
}

/// `key value` pairs, for metric-like and step keys only (`epoch 3 loss 0.2`,
/// `Epoch [1/10]`, `Iteration 3`).
fn pairs_space(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for c in KEY_SPACE_VALUE.captures_iter(text) {
        let (Some(all), Some(k), Some(v)) = (c.get(0), c.get(1), c.get(2)) else {
            continue;
        };
        if !ends_well(text, all.end()) {
            continue;
        }
        let key = k.as_str().to_string();
        let lower = key.to_ascii_lowercase();
        let step_like = STEP_KEYS.contains(&lower.as_str());
        if !(step_like || looks_like_metric(&key)) || is_noise(&key) {
            continue;
        }
        if let Some(v) = number(v.as_str()) {
            out.push((if step_like { lower } else { key }, v));
        }
    }
    out
}

/// A JSON object, or a Python dict as print() shows it.
fn dict_pairs(text: &str) -> Option<Vec<(String, f64)>> {
    let parsed: serde_json::Value = serde_json::from_str(text).ok().or_else(|| {
        let json = text
            .replace('\'', "\"")
            .replace("True", "true")
            .replace("False", "false")
            .replace("None", "null")
            .replace("nan", "NaN");
        serde_json::from_str(&json.replace("NaN", "null")).ok()
    })?;
    let obj = parsed.as_object()?;
    let pairs: Vec<(String, f64)> = obj
        .iter()
        .filter(|(k, _)| !is_noise(k))
        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
        .collect();
    (!pairs.is_empty()).then_some(pairs)
}

/// The curves of one run: per metric, the last value seen at each x.
#[derive(Debug, Default, Clone)]
pub struct Curves {
    series: BTreeMap<String, BTreeMap<u64, (f64, f64)>>,
    first_ms: Option<f64>,
}

/// One metric's curve, ordered by x.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MetricSeries {
    pub name: String,
    /// True when x is a step/epoch the script named; false: seconds since
    /// the script's first line.
    pub by_step: bool,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

impl Curves {
    pub fn add(&mut self, p: &MetricPoint) {
        let first = *self.first_ms.get_or_insert(p.at_ms);
        let (x, by_step) = match p.step {
            Some(s) => (s, true),
            None => ((p.at_ms - first) / 1000.0, false),
        };
        // f64 keys: stored by their bits (x is never negative here).
        let key = if by_step {
            x.max(0.0).to_bits()
        } else {
            (x.max(0.0) + 1e12).to_bits()
        };
        self.series
            .entry(p.name.clone())
            .or_default()
            .insert(key, (x, p.value));
    }

    pub fn series(&self) -> Vec<MetricSeries> {
        self.series
            .iter()
            .map(|(name, points)| {
                let by_step = points.keys().all(|k| f64::from_bits(*k) < 1e12);
                let (x, y) = points.values().copied().unzip();
                MetricSeries {
                    name: name.clone(),
                    by_step,
                    x,
                    y,
                }
            })
            .collect()
    }

    /// The last value of each metric (for the history list).
    pub fn finals(&self) -> BTreeMap<String, f64> {
        self.series
            .iter()
            .filter_map(|(name, pts)| pts.values().last().map(|(_, v)| (name.clone(), *v)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
