"""easyTDV example: recognise handwritten digits.

Trains a small linear classifier on the 8x8 digit images that ship inside
scikit-learn (1,797 images, nothing is downloaded), one pass over the data per
epoch, and prints the loss and accuracy of each epoch: easyTDV draws them as
charts. The trained model is saved to $OUTPUT_DIR, which easyTDV brings home
with "Download outputs".
"""

import argparse
import json
import os
import pickle

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

# Arguments (set them on the Review step, or try several values at once with a sweep).
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=int(os.environ.get("EPOCHS", "15")))
parser.add_argument("--lr", type=float, default=0.005, help="the learning rate")
args = parser.parse_args()
EPOCHS = args.epochs
out_dir = os.environ.get("OUTPUT_DIR", "outputs")
os.makedirs(out_dir, exist_ok=True)

digits = load_digits()
x_train, x_test, y_train, y_test = train_test_split(
    digits.data, digits.target, test_size=0.25, random_state=0, stratify=digits.target
)
scaler = StandardScaler().fit(x_train)
x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
classes = np.unique(digits.target)
print(f"{len(x_train)} training images, {len(x_test)} test images, {len(classes)} classes")

model = SGDClassifier(loss="log_loss", alpha=1e-3, learning_rate="constant", eta0=args.lr, random_state=0)
rng = np.random.default_rng(0)
for epoch in range(1, EPOCHS + 1):
    order = rng.permutation(len(x_train))
    for batch in np.array_split(order, 10):
        model.partial_fit(x_train[batch], y_train[batch], classes=classes)
    loss = log_loss(y_test, model.predict_proba(x_test), labels=classes)
    acc = accuracy_score(y_test, model.predict(x_test))
    print(f"epoch {epoch} loss {loss:.4f} acc {acc:.4f}", flush=True)

with open(os.path.join(out_dir, "model.pkl"), "wb") as f:
    pickle.dump({"scaler": scaler, "model": model}, f)
with open(os.path.join(out_dir, "metrics.json"), "w") as f:
    json.dump({"epochs": EPOCHS, "lr": args.lr, "loss": round(loss, 4), "accuracy": round(acc, 4)}, f)
print(f"saved the model to {out_dir}/model.pkl (test accuracy {acc:.1%})")
