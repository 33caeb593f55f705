"""Our run and the original library's flow, side by side, on a sandbox that keeps AWS's time
(`tests/sandbox/run --latency aws[:SCALE]`): `./dev bench-latency` starts that sandbox, builds the
CLI and runs this. It prints figures and asserts nothing.

(a) `easytdv bench --runs N` (a one-line train.py, an empty requirements.txt, t3.medium);
(b) tests/bench/seed_flow.py, the original's flow replayed with boto3, N times;
(c) `easytdv bench --runs N+1 --keep-warm 10m`: the first run launches a machine, each next
    one starts on the machine the run before kept warm (the median is a warm run's);
(d) a first run in a region made ready ahead (`easytdv shared --prepare`, what the wizard starts
    once the account and region are chosen), then `easytdv bench --runs 1` there, in its bucket;
then per step the medians and their ratio (ours / the original's), and "to the training command":
Launch to the moment the training command is sent (prepare + stack + instance + requirements).

    latency_bench.py --easytdv BIN --endpoint URL [--runs N] [--scale S] [--region R]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed_flow import STEPS, Seed, medians  # noqa: E402

OURS = ("prepare", "stack", "instance", "requirements", "training", "outputs", "delete", "total")


BEFORE_TRAINING = ("prepare", "stack", "instance", "requirements")


def ours(
    binary: str, endpoint: str, runs: int, region: str, warm: bool = False, bucket: str | None = None
) -> tuple[dict[str, float], str]:
    """`easytdv bench`'s medians per step, and its whole output."""
    with tempfile.TemporaryDirectory(prefix="latency-bench-") as tmp:
        project = Path(tmp, "project")
        project.mkdir()
        (project / "train.py").write_text('print("hello from train.py")\n')
        (project / "requirements.txt").write_text("")
        env = {**os.environ, "EASYTDV_DATA_DIR": str(Path(tmp, "data")), "AWS_EC2_METADATA_DISABLED": "true"}
        args = [binary, "bench", "--runs", str(runs), "--script", str(project / "train.py")]
        args += ["--requirements", str(project / "requirements.txt"), "--instance-type", "t3.medium"]
        bucket = bucket or f"bench-{uuid.uuid4().hex[:10]}"
        args += ["--region", region, "--bucket", bucket, "--sandbox", endpoint]
        if warm:
            args += ["--keep-warm", "10m"]
        done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout, done.stderr, sep="\n", file=sys.stderr)
        raise SystemExit(f"easytdv bench failed (exit {done.returncode})")
    figures = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0] in OURS:
            figures[parts[0]] = float(parts[2])  # the median
    if all(step in figures for step in BEFORE_TRAINING):
        figures["to the training command"] = sum(figures[step] for step in BEFORE_TRAINING)
    return figures, done.stdout


def prepare_region(binary: str, endpoint: str, region: str) -> tuple[float, str]:
    """`easytdv shared --prepare`: seconds taken, and the bucket it made."""
    with tempfile.TemporaryDirectory(prefix="latency-bench-") as tmp:
        env = {**os.environ, "EASYTDV_DATA_DIR": str(Path(tmp, "data")), "AWS_EC2_METADATA_DISABLED": "true"}
        args = [binary, "shared", "--prepare", "--region", region, "--json", "--sandbox", endpoint]
        started = time.monotonic()
        done = subprocess.run(args, env=env, capture_output=True, text=True)
        took = time.monotonic() - started
    if done.returncode != 0:
        print(done.stdout, done.stderr, sep="\n", file=sys.stderr)
        raise SystemExit(f"easytdv shared --prepare failed (exit {done.returncode})")
    return took, json.loads(done.stdout)["bucket"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--easytdv", required=True, help="the CLI binary")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--scale", default="?", help="the sandbox's --latency scale (shown only)")
    parser.add_argument("--region", default="eu-west-3")
    parser.add_argument("--prepared-region", default="eu-central-1", help="(d)'s region, made ready ahead")
    args = parser.parse_args()
    key = os.environ["EASYTDV_SANDBOX_ACCESS_KEY"]

    started = time.monotonic()
    mine, output = ours(args.easytdv, args.endpoint, args.runs, args.region)
    print(f"(a) easytdv bench --runs {args.runs}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    started = time.monotonic()
    seed = Seed(args.endpoint, args.region, key)
    runs = []
    for i in range(args.runs):
        runs.append(seed.run())
        print(f"(b) seed run {i + 1}/{args.runs} done", file=sys.stderr)
    theirs = medians(runs)
    print(f"(b) the original's flow x{args.runs}: {time.monotonic() - started:.0f} s", file=sys.stderr)

    started = time.monotonic()
    warm, warm_output = ours(args.easytdv, args.endpoint, args.runs + 1, args.region, warm=True)
    took = time.monotonic() - started
    print(f"(c) easytdv bench --runs {args.runs + 1} --keep-warm 10m: {took:.0f} s", file=sys.stderr)
    prepared_s, prepared_bucket = prepare_region(args.easytdv, args.endpoint, args.prepared_region)
    ahead, ahead_output = ours(args.easytdv, args.endpoint, 1, args.prepared_region, bucket=prepared_bucket)
    print(f"(d) a region made ready ahead in {prepared_s:.1f} s, then its first run", file=sys.stderr)
    if all(step in theirs for step in BEFORE_TRAINING):
        theirs["to the training command"] = sum(theirs[step] for step in BEFORE_TRAINING)

    def cell(value, width):
        return f"{value:{width}.2f}" if value is not None else f"{'-':>{width}}"

    print(f"AWS latency model x{args.scale} (tests/sandbox/easytdv_sandbox/latency.py), median of {args.runs}:")
    print(
        f"{'step':<24} {'ours s':>9} {'warm s':>9} {'ready s':>9} {'original s':>11}"
        f" {'ours/orig':>10} {'warm/orig':>10} {'ready/orig':>10}"
    )

    def ratio(a, b):
        return f"{a / b:10.2f}" if a is not None and b else f"{'-':>10}"

    for step in (*OURS, "to the training command"):
        a, w, r, b = mine.get(step), warm.get(step), ahead.get(step), theirs.get(step)
        print(
            f"{step:<24} {cell(a, 9)} {cell(w, 9)} {cell(r, 9)} {cell(b, 11)} {ratio(a, b)} {ratio(w, b)} {ratio(r, b)}"
        )
    print(
        f"ready: the first run in {args.prepared_region}, made ready ahead in {prepared_s:.2f} s"
        " (the wizard starts it once the account and region are chosen, while the rest is filled in)"
    )
    print(
        "(the original's total counts "
        + ", ".join(STEPS)
        + "; its delete waits for nothing, ours waits for the stack to be gone; ours has an outputs step;"
        + " warm: a run on the machine the run before kept warm)"
    )
    print()
    print("easytdv bench's own report:")
    print(output)
    print("easytdv bench --keep-warm's own report:")
    print(warm_output)
    print(f"easytdv bench's own report of the first run in {args.prepared_region}, made ready ahead:")
    print(ahead_output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
