//! Which run of a sweep did best: by a metric the user picks, or the one
//! named like a loss (lowest wins) or an accuracy (highest wins).

use serde::{Deserialize, Serialize};

use crate::history::{Outcome, RunRecord};

/// The metric that ranks a sweep's runs, and which way is better.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BestBy {
    pub metric: String,
    /// The lowest value wins (a loss, an error); else the highest.
    pub lower_is_better: bool,
}

/// The winner: a finished run and its metric's last value.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BestRun {
    pub run_id: String,
    pub value: f64,
}

/// Whether a lower value of a metric so named is better (losses, errors,
/// perplexity); accuracies and scores are better higher.
pub fn lower_is_better(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let higher = [
        "acc",
        "f1",
        "auc",
        "precision",
        "recall",
        "score",
        "r2",
        "iou",
        "bleu",
    ];
    if higher.iter().any(|h| n.contains(h)) {
        return false;
    }
    true
}

/// The metric a sweep is ranked by when the user picked none: a validation
/// loss, a loss, a validation accuracy, an accuracy (in that order), else none.
pub fn default_by(names: &[String]) -> Option<BestBy> {
    let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    let find =
        |pred: &dyn Fn(&str) -> bool| lower.iter().position(|n| pred(n)).map(|i| names[i].clone());
    type Rule<'a> = (&'a dyn Fn(&str) -> bool, bool);
    let tries: [Rule; 6] = [
        (&|n| n == "val_loss" || n == "validation_loss", true),
        (&|n| n.contains("val") && n.contains("loss"), true),
        (&|n| n == "loss", true),
        (&|n| n.contains("loss"), true),
        (&|n| n.contains("val") && n.contains("acc"), false),
        (
            &|n| n == "acc" || n.contains("accuracy") || n.ends_with("_acc"),
            false,
        ),
    ];
    tries.iter().find_map(|(pred, lower_is_better)| {
        find(*pred).map(|metric| BestBy {
            metric,
            lower_is_better: *lower_is_better,
        })
    })
}

/// Every metric the runs reported, sorted.
pub fn metric_names(runs: &[RunRecord]) -> Vec<String> {
    let mut names: Vec<String> = runs
        .iter()
        .filter_map(|r| r.summary.as_ref())
        .flat_map(|s| s.final_metrics.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The succeeded run with the best last value of `by.metric` (a tie: the
/// first run); `None` when no succeeded run reported it.
pub fn best_run(runs: &[RunRecord], by: &BestBy) -> Option<BestRun> {
    let mut best: Option<BestRun> = None;
    for r in runs.iter().filter(|r| r.outcome == Outcome::Succeeded) {
        let Some(&value) = r
            .summary
            .as_ref()
            .and_then(|s| s.final_metrics.get(&by.metric))
        else {
            continue;
        };
        if !value.is_finite() {
            continue;
        }
        let better = match &best {
            None => true,
            Some(b) if by.lower_is_better => value < b.value,
            Some(b) => value > b.value,
        };
        if better {
            best = Some(BestRun {
                run_id: r.run_id.clone(),
                value,
            });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Cleanup;
    use crate::pipeline::{RunResources, RunSummary};

    fn run(id: &str, outcome: Outcome, metrics: &[(&str, f64)]) -> RunRecord {
        RunRecord {
            run_id: id.into(),
            created_at: String::new(),
            account_id: None,
            request: None,
            resources: RunResources::default(),
            outcome,
            last_step: None,
            message: None,
            detail: None,
            outputs_uri: None,
            cleanup: Cleanup::None,
            cleanup_message: None,
            summary: Some(RunSummary {
                final_metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                ..Default::default()
            }),
            cost: None,
            sweep_id: None,
        }
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_default_metric_is_a_loss_lowest_then_an_accuracy_highest() {
        let by = default_by(&names(&["accuracy", "loss", "val_loss"])).unwrap();
        assert_eq!((by.metric.as_str(), by.lower_is_better), ("val_loss", true));
        let by = default_by(&names(&["Train_Loss", "acc"])).unwrap();
        assert_eq!(
            (by.metric.as_str(), by.lower_is_better),
            ("Train_Loss", true)
        );
        let by = default_by(&names(&["lr", "val_accuracy"])).unwrap();
        assert_eq!(
            (by.metric.as_str(), by.lower_is_better),
            ("val_accuracy", false)
        );
        assert_eq!(default_by(&names(&["lr", "step_time"])), None);
        assert!(lower_is_better("mse") && !lower_is_better("F1") && !lower_is_better("val_acc"));
    }

    #[test]
    fn the_best_is_a_finished_run_with_the_best_last_value() {
        let runs = vec![
            run("a", Outcome::Succeeded, &[("loss", 0.5), ("acc", 0.8)]),
            run("b", Outcome::Failed, &[("loss", 0.1), ("acc", 0.99)]),
            run("c", Outcome::Succeeded, &[("loss", 0.3), ("acc", 0.7)]),
            run("d", Outcome::Succeeded, &[("loss", f64::NAN)]),
            run("e", Outcome::Succeeded, &[]),
        ];
        let loss = BestBy {
            metric: "loss".into(),
            lower_is_better: true,
        };
        assert_eq!(best_run(&runs, &loss).unwrap().run_id, "c");
        let acc = BestBy {
            metric: "acc".into(),
            lower_is_better: false,
        };
        assert_eq!(best_run(&runs, &acc).unwrap().run_id, "a");
        let none = BestBy {
            metric: "f1".into(),
            lower_is_better: false,
        };
        assert_eq!(best_run(&runs, &none), None);
        assert_eq!(metric_names(&runs), ["acc", "loss"]);
    }
}
