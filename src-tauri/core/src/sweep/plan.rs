//! What a sweep asks for (a grid of values, or argument lines) and the runs
//! it makes: each run's arguments, its share of the budget, and whether it
//! hands its machine on to the next one.

use serde::{Deserialize, Serialize};

use super::SweepError;
use crate::pipeline::run_args;
use crate::pipeline::{notebook, Engine, TrainRequest};

/// The most runs one sweep makes.
pub const MAX_RUNS: usize = 50;
/// The most machines one sweep runs at once.
pub const MAX_AT_ONCE: u32 = 16;
/// One machine, one run after another: how long each run keeps the machine
/// warm for the next one when the request says nothing.
pub const HANDOVER_WARM_MIN: u32 = 15;

/// One argument and the values it takes, e.g. `lr` = 0.1, 0.01.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GridAxis {
    pub name: String,
    pub values: Vec<String>,
}

/// The values a sweep tries.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SweepValues {
    /// Every combination: `--name value` set in the run's arguments
    /// (a notebook's `-p name value`), replacing the value given there.
    Grid { axes: Vec<GridAxis> },
    /// One run per line; each line is that run's whole argument line
    /// (blank lines and lines starting with `#` are skipped).
    List { lines: Vec<String> },
}

/// Where a sweep's runs go.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, specta::Type, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SweepMode {
    /// Each run on its own machine (or SageMaker job), at most `at_once`
    /// at a time.
    Parallel {
        #[serde(rename = "atOnce")]
        at_once: u32,
    },
    /// One run after another on one EC2 machine, kept warm between them.
    OneMachine,
}

/// A sweep: the run the wizard describes, the values to try, and how.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SweepRequest {
    /// The run as the wizard describes it; its budget cap is the whole
    /// sweep's.
    pub base: TrainRequest,
    pub values: SweepValues,
    pub mode: SweepMode,
    /// Stop every run when one fails (default: the others go on).
    #[serde(default)]
    pub stop_on_failure: bool,
}

/// One run of a sweep, before it starts.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlannedRun {
    /// What differs: `lr=0.1 epochs=5`, or the list's line.
    pub label: String,
    pub args: Vec<String>,
    pub args_text: String,
}

/// The runs a sweep makes, checked.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SweepPlan {
    pub runs: Vec<PlannedRun>,
    /// Each run's cap: the sweep's budget shared evenly (`None`: no cap).
    pub budget_per_run: Option<f64>,
    /// How many machines may run at once (1 on one machine).
    pub at_once: u32,
}

impl SweepRequest {
    /// Checks the values and the mode and lists the runs.
    pub fn plan(&self) -> Result<SweepPlan, SweepError> {
        let notebook = notebook::is_notebook(&self.base.script_path);
        let runs = match &self.values {
            SweepValues::Grid { axes } => grid(&self.base.args, axes, notebook)?,
            SweepValues::List { lines } => list(lines)?,
        };
        if runs.len() < 2 {
            return Err(SweepError::TooFew);
        }
        if runs.len() > MAX_RUNS {
            return Err(SweepError::TooMany(runs.len()));
        }
        for (i, a) in runs.iter().enumerate() {
            if runs[..i].iter().any(|b| b.args == a.args) {
                return Err(SweepError::SameTwice(a.label.clone()));
            }
            run_args::check_arguments(&a.args, &a.args_text)
                .map_err(|e| SweepError::BadLine(a.label.clone(), e))?;
        }
        let at_once = match self.mode {
            SweepMode::OneMachine if self.base.engine != Engine::Ec2 => {
                return Err(SweepError::OneMachineIsEc2)
            }
            SweepMode::OneMachine => 1,
            SweepMode::Parallel { at_once } if !(1..=MAX_AT_ONCE).contains(&at_once) => {
                return Err(SweepError::BadAtOnce(at_once))
            }
            SweepMode::Parallel { at_once } => at_once.min(runs.len() as u32),
        };
        let budget_per_run = self.base.budget_usd.map(|b| b / runs.len() as f64);
        Ok(SweepPlan {
            runs,
            budget_per_run,
            at_once,
        })
    }

    /// The request of the plan's run `index`: its arguments, its share of
    /// the budget, and on one machine, the machine kept warm for the next.
    pub fn run_request(&self, plan: &SweepPlan, index: usize) -> TrainRequest {
        let mut request = self.base.clone();
        let run = &plan.runs[index];
        request.args = run.args.clone();
        request.args_text = run.args_text.clone();
        request.budget_usd = plan.budget_per_run;
        if self.mode == SweepMode::OneMachine && index + 1 < plan.runs.len() {
            request.keep_warm_minutes =
                Some(self.base.keep_warm_minutes.unwrap_or(HANDOVER_WARM_MIN));
        }
        request
    }
}

/// An argument name a grid sets: letters, digits, `_`, `-`, `.`.
fn check_name(name: &str) -> Result<(), SweepError> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(SweepError::BadName(name.chars().take(64).collect()))
    }
}

fn grid(base: &[String], axes: &[GridAxis], notebook: bool) -> Result<Vec<PlannedRun>, SweepError> {
    if axes.is_empty() {
        return Err(SweepError::TooFew);
    }
    let mut total: usize = 1;
    for (i, axis) in axes.iter().enumerate() {
        check_name(&axis.name)?;
        if axes[..i].iter().any(|a| a.name == axis.name) {
            return Err(SweepError::NameTwice(axis.name.clone()));
        }
        if axis.values.is_empty() || axis.values.iter().any(|v| v.trim().is_empty()) {
            return Err(SweepError::NoValues(axis.name.clone()));
        }
        total = total.saturating_mul(axis.values.len());
    }
    if total > MAX_RUNS {
        return Err(SweepError::TooMany(total));
    }
    // Every combination, the first axis changing slowest.
    let mut combos: Vec<Vec<(&str, &str)>> = vec![Vec::new()];
    for axis in axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                axis.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((axis.name.as_str(), v.trim()));
                    c
                })
            })
            .collect();
    }
    Ok(combos
        .into_iter()
        .map(|combo| {
            let mut args = base.to_vec();
            for (name, value) in &combo {
                set_value(&mut args, name, value, notebook);
            }
            let label = combo
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            PlannedRun {
                label,
                args_text: readable_join(&args),
                args,
            }
        })
        .collect())
}

/// Sets `--name value` (a notebook: `-p name value`) in `args`: the value
/// given there is replaced, else the pair is added at the end.
fn set_value(args: &mut Vec<String>, name: &str, value: &str, notebook: bool) {
    if notebook {
        let at = args
            .windows(3)
            .position(|w| (w[0] == "-p" || w[0] == "-r") && w[1] == name);
        match at {
            // The flag given stays (`-r`: a raw string, as the person wrote it).
            Some(i) => args[i + 2] = value.into(),
            None => args.extend(["-p".into(), name.into(), value.into()]),
        }
        return;
    }
    let flag = format!("--{name}");
    let joined = format!("--{name}=");
    if let Some(i) = args.iter().position(|a| a.starts_with(&joined)) {
        args[i] = format!("{joined}{value}");
    } else if let Some(i) = args.iter().position(|a| *a == flag) {
        if i + 1 < args.len() && !args[i + 1].starts_with("--") {
            args[i + 1] = value.into();
        } else {
            args.insert(i + 1, value.into());
        }
    } else {
        args.extend([flag, value.into()]);
    }
}

/// The arguments as one line that splits back into them, quoted only
/// where needed (`--epochs=5` stays as it is).
fn readable_join(args: &[String]) -> String {
    let plain = |a: &String| {
        !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.,:/=@%+".contains(c))
    };
    args.iter()
        .map(|a| {
            if plain(a) {
                a.clone()
            } else {
                run_args::join(std::slice::from_ref(a))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn list(lines: &[String]) -> Result<Vec<PlannedRun>, SweepError> {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let args = run_args::split(line)
                .map_err(|e| SweepError::BadLine(line.chars().take(80).collect(), e))?;
            Ok(PlannedRun {
                label: line.to_string(),
                args,
                args_text: line.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(args: &[&str], values: SweepValues, mode: SweepMode) -> SweepRequest {
        SweepRequest {
            base: TrainRequest {
                script_path: "train.py".into(),
                args: args.iter().map(|s| s.to_string()).collect(),
                budget_usd: Some(3.0),
                ..Default::default()
            },
            values,
            mode,
            stop_on_failure: false,
        }
    }

    fn axis(name: &str, values: &[&str]) -> GridAxis {
        GridAxis {
            name: name.into(),
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_grid_makes_every_combination_and_replaces_given_values() {
        let r = request(
            &["--lr", "1", "--data=x", "--epochs=3"],
            SweepValues::Grid {
                axes: vec![axis("lr", &["0.1", " 0.01 "]), axis("epochs", &["5", "10"])],
            },
            SweepMode::Parallel { at_once: 8 },
        );
        let plan = r.plan().unwrap();
        let args: Vec<String> = plan.runs.iter().map(|p| p.args_text.clone()).collect();
        assert_eq!(
            args,
            [
                "--lr 0.1 --data=x --epochs=5",
                "--lr 0.1 --data=x --epochs=10",
                "--lr 0.01 --data=x --epochs=5",
                "--lr 0.01 --data=x --epochs=10"
            ]
        );
        assert_eq!(plan.runs[1].label, "lr=0.1 epochs=10");
        assert_eq!(plan.at_once, 4, "never more machines than runs");
        assert_eq!(plan.budget_per_run, Some(0.75), "the cap is the sweep's");
        let third = r.run_request(&plan, 2);
        assert_eq!(third.args, ["--lr", "0.01", "--data=x", "--epochs=5"]);
        assert_eq!(third.budget_usd, Some(0.75));
        assert_eq!(third.keep_warm_minutes, None);
    }

    #[test]
    fn a_flag_without_value_and_a_notebook_get_theirs() {
        let mut a: Vec<String> = vec!["--fast".into(), "--lr".into(), "--x".into()];
        set_value(&mut a, "lr", "2", false);
        assert_eq!(a, ["--fast", "--lr", "2", "--x"]);
        let mut n: Vec<String> = ["-r", "lr", "1", "-p", "k", "v"].map(String::from).to_vec();
        set_value(&mut n, "lr", "0.5", true);
        set_value(&mut n, "epochs", "4", true);
        assert_eq!(n, ["-r", "lr", "0.5", "-p", "k", "v", "-p", "epochs", "4"]);
    }

    #[test]
    fn a_list_is_one_run_per_line() {
        let r = request(
            &["--ignored"],
            SweepValues::List {
                lines: vec![
                    "# comment".into(),
                    "--lr 0.1".into(),
                    "".into(),
                    "--lr 0.2 --name 'a b'".into(),
                ],
            },
            SweepMode::OneMachine,
        );
        let plan = r.plan().unwrap();
        assert_eq!(plan.runs.len(), 2);
        assert_eq!(plan.runs[1].args, ["--lr", "0.2", "--name", "a b"]);
        assert_eq!(plan.at_once, 1);
        // On one machine each run keeps it warm for the next, the last as asked.
        assert_eq!(
            r.run_request(&plan, 0).keep_warm_minutes,
            Some(HANDOVER_WARM_MIN)
        );
        assert_eq!(r.run_request(&plan, 1).keep_warm_minutes, None);
    }

    #[test]
    fn bad_sweeps_are_refused_with_what_is_wrong() {
        let grid = |axes| SweepValues::Grid { axes };
        let par = SweepMode::Parallel { at_once: 2 };
        let cases: Vec<(SweepRequest, &str)> = vec![
            (
                request(&[], grid(vec![axis("lr", &["1"])]), par),
                "at least two",
            ),
            (request(&[], grid(vec![]), par), "at least two"),
            (
                request(&[], grid(vec![axis("l r", &["1", "2"])]), par),
                "not an argument name",
            ),
            (
                request(&[], grid(vec![axis("--lr", &["1", "2"])]), par),
                "not an argument name",
            ),
            (
                request(&[], grid(vec![axis("lr", &["1", " "])]), par),
                "no value",
            ),
            (
                request(
                    &[],
                    grid(vec![axis("lr", &["1", "2"]), axis("lr", &["3"])]),
                    par,
                ),
                "twice",
            ),
            (
                request(&[], grid(vec![axis("lr", &["1", "1"])]), par),
                "same arguments",
            ),
            (
                request(
                    &[],
                    grid(vec![
                        axis("a", &["1", "2", "3", "4", "5", "6", "7", "8"]),
                        axis("b", &["1", "2", "3", "4", "5", "6", "7"]),
                    ]),
                    par,
                ),
                "56 runs",
            ),
            (
                request(
                    &[],
                    grid(vec![axis("lr", &["1", "2"])]),
                    SweepMode::Parallel { at_once: 0 },
                ),
                "at once",
            ),
            (
                request(
                    &[],
                    SweepValues::List {
                        lines: vec!["--a 'x".into(), "--b".into()],
                    },
                    par,
                ),
                "--a 'x",
            ),
        ];
        for (r, expected) in cases {
            let e = r.plan().unwrap_err().to_string();
            assert!(e.contains(expected), "{expected:?} not in {e:?}");
        }
        let mut sm = request(
            &[],
            grid(vec![axis("lr", &["1", "2"])]),
            SweepMode::OneMachine,
        );
        sm.base.engine = Engine::SageMaker {
            instance_count: 1,
            spot: false,
        };
        assert!(sm.plan().unwrap_err().to_string().contains("EC2"));
    }
}
