use super::*;
use crate::logs::Stream;

fn parse_all(lines: &[&str]) -> Vec<Vec<(String, f64, Option<f64>)>> {
    let mut p = MetricParser::default();
    lines
        .iter()
        .map(|t| {
            p.parse(&LogLine {
                at_ms: 0.0,
                stream: Stream::Out,
                text: t.to_string(),
            })
            .into_iter()
            .map(|m| (m.name, m.value, m.step))
            .collect()
        })
        .collect()
}

fn one(line: &str) -> Vec<(String, f64, Option<f64>)> {
    parse_all(&[line]).remove(0)
}

fn m(name: &str, value: f64, step: Option<f64>) -> (String, f64, Option<f64>) {
    (name.to_string(), value, step)
}

#[test]
fn the_common_forms() {
    assert_eq!(
        one("epoch 3 loss 0.21 acc 0.93"),
        vec![m("loss", 0.21, Some(3.0)), m("acc", 0.93, Some(3.0))]
    );
    assert_eq!(one("loss=0.21"), vec![m("loss", 0.21, None)]);
    assert_eq!(
        one("step=7 loss=0.21 acc=0.5"),
        vec![m("loss", 0.21, Some(7.0)), m("acc", 0.5, Some(7.0))]
    );
    assert!(one("took 3ms per batch").is_empty());
    assert_eq!(one("loss: 0.21"), vec![m("loss", 0.21, None)]);
    assert_eq!(
        one(r#"{"epoch": 3, "loss": 0.21, "note": "x"}"#),
        vec![m("loss", 0.21, Some(3.0))]
    );
    assert_eq!(
        one("easytdv: metric loss=0.21 step=3"),
        vec![m("loss", 0.21, Some(3.0))]
    );
    assert!(one("easytdv: training started (OUTPUT_DIR=/opt/easytdv/outputs)").is_empty());
}

#[test]
fn pytorch_samples() {
    // The PyTorch examples (mnist) and the usual tutorial loop.
    assert_eq!(
        one("Train Epoch: 1 [640/60000 (1%)]\tLoss: 1.716234"),
        vec![m("Loss", 1.716234, Some(1.0))]
    );
    assert_eq!(
        one("Epoch [1/10], Step [100/600], Loss: 0.2345"),
        vec![m("Loss", 0.2345, Some(100.0))]
    );
    assert_eq!(
        one("Test set: Average loss: 0.0470, Accuracy: 9848/10000 (98%)"),
        vec![m("loss", 0.047, None), m("Accuracy", 9848.0, None)]
    );
    assert!(one("Using device cuda with 4 GPUs").is_empty());
}

#[test]
fn keras_samples() {
    let got = parse_all(&[
        "Epoch 2/10",
        "1875/1875 [==============================] - 3s 2ms/step - loss: 0.1234 - accuracy: 0.9634 - val_loss: 0.0912 - val_accuracy: 0.9721",
        "Epoch 3/10",
        "\u{1b}[1m1875/1875\u{1b}[0m \u{1b}[32m━━━━━━━━━━━━━━━━━━━━\u{1b}[0m\u{1b}[37m\u{1b}[0m \u{1b}[1m2s\u{1b}[0m 1ms/step - accuracy: 0.9712 - loss: 0.0950",
    ]);
    assert!(got[0].is_empty());
    assert_eq!(
        got[1],
        vec![
            m("loss", 0.1234, Some(2.0)),
            m("accuracy", 0.9634, Some(2.0)),
            m("val_loss", 0.0912, Some(2.0)),
            m("val_accuracy", 0.9721, Some(2.0)),
        ]
    );
    assert_eq!(
        got[3],
        vec![
            m("accuracy", 0.9712, Some(3.0)),
            m("loss", 0.095, Some(3.0))
        ]
    );
}

#[test]
fn tqdm_and_lightning_samples() {
    assert_eq!(
        one("Epoch 1:  45%|████▌     | 45/100 [00:01<00:02, 30.12it/s, loss=0.345, acc=0.81]"),
        vec![m("loss", 0.345, Some(1.0)), m("acc", 0.81, Some(1.0))]
    );
    assert_eq!(
        one(
            "Epoch 0: 100%|██████████| 313/313 [00:05<00:00, 58.21it/s, v_num=0, train_loss=0.412]"
        ),
        vec![m("train_loss", 0.412, Some(0.0))]
    );
}

#[test]
fn hugging_face_samples() {
    let mut got =
        one("{'loss': 0.6932, 'grad_norm': 1.2345, 'learning_rate': 4.5e-05, 'epoch': 0.5}");
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            m("grad_norm", 1.2345, Some(0.5)),
            m("learning_rate", 4.5e-5, Some(0.5)),
            m("loss", 0.6932, Some(0.5)),
        ]
    );
    assert_eq!(
        one("{'eval_loss': 0.41, 'eval_accuracy': 0.88, 'eval_runtime': 3.2, 'eval_samples_per_second': 310.1, 'epoch': 1.0}"),
        vec![m("eval_accuracy", 0.88, Some(1.0)), m("eval_loss", 0.41, Some(1.0))]
    );
    assert_eq!(
        one("{'train_runtime': 120.5, 'train_samples_per_second': 41.5, 'train_loss': 0.52, 'epoch': 3.0}"),
        vec![m("train_loss", 0.52, Some(3.0))]
    );
}

#[test]
fn scikit_learn_samples() {
    assert_eq!(
        one("Iteration 3, loss = 0.41247862"),
        vec![m("loss", 0.41247862, Some(3.0))]
    );
    assert_eq!(
        one("Norm: 1.52, NNZs: 64, Bias: -0.301, T: 1797, Avg. loss: 0.532"),
        vec![
            m("Norm", 1.52, None),
            m("NNZs", 64.0, None),
            m("Bias", -0.301, None),
            m("T", 1797.0, None),
            m("loss", 0.532, None),
        ]
    );
}

#[test]
fn curves_keep_the_last_value_per_step() {
    let mut c = Curves::default();
    for (step, v) in [(1.0, 0.9), (1.0, 0.8), (2.0, 0.5)] {
        c.add(&MetricPoint {
            name: "loss".into(),
            value: v,
            step: Some(step),
            at_ms: 0.0,
        });
    }
    let s = c.series();
    assert_eq!(
        (s[0].x.clone(), s[0].y.clone(), s[0].by_step),
        (vec![1.0, 2.0], vec![0.8, 0.5], true)
    );
    assert_eq!(c.finals()["loss"], 0.5);
}
