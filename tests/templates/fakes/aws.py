"""A fake AWS CLI for the instance-script tests: `aws s3 cp` (one object or
--recursive with --exclude/--include), `aws s3 sync` and `aws s3api get-object`
(with --expected-bucket-owner: another owner than the fake bucket's, 123456789012,
is refused as S3 does), against $FAKE_S3_ROOT/<bucket>/<key>.

Every call is appended to $FAKE_S3_ROOT/.calls (one line) and every object
written to $FAKE_S3_ROOT/.puts ("<key> <bytes>"), so tests can count round trips
and re-uploads. Failure switches: FAKE_AWS_FAIL_SYNC=1 (every sync fails),
FAKE_AWS_FAIL_PUT=<key prefix> (writes below that prefix fail).
"""

import fnmatch
import json
import os
import shutil
import sys

ROOT = os.environ["FAKE_S3_ROOT"]
VALUE_OPTIONS = {"--exclude", "--include", "--metadata", "--region", "--endpoint-url", "--content-type"}


def note(name, line):
    with open(os.path.join(ROOT, name), "a") as f:
        f.write(line + "\n")


def local(url):
    return os.path.join(ROOT, url[len("s3://") :])


def key_of(url):
    return url[len("s3://") :].split("/", 1)[1]


def selected(rel, filters):
    keep = True
    for kind, pattern in filters:
        if fnmatch.fnmatchcase(rel, pattern):
            keep = kind == "--include"
    return keep


def walk(path):
    for dirpath, _, files in os.walk(path):
        for name in files:
            full = os.path.join(dirpath, name)
            yield os.path.relpath(full, path).replace(os.sep, "/"), full


def put(src_file, url):
    key = key_of(url)
    fail = os.environ.get("FAKE_AWS_FAIL_PUT")
    if fail and key.startswith(fail):
        sys.exit(
            f"upload failed: {src_file} to {url} An error occurred (AccessDenied) when calling the PutObject operation"
        )
    dst = local(url)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if src_file == "-":  # from standard input
        with open(dst, "wb") as out:
            out.write(sys.stdin.buffer.read())
    else:
        shutil.copyfile(src_file, dst)
    note(".puts", f"{key} {os.path.getsize(dst)}")


def get(url, dst_file):
    src = local(url)
    if not os.path.isfile(src):
        sys.exit(
            "fatal error: An error occurred (404) when calling the HeadObject operation: "
            f'Key "{key_of(url)}" does not exist'
        )
    if dst_file == "-":
        sys.stdout.buffer.write(open(src, "rb").read())
        note(".gets", key_of(url))
        return
    if dst_file.endswith("/") or os.path.isdir(dst_file):
        dst_file = os.path.join(dst_file, os.path.basename(src))
    os.makedirs(os.path.dirname(os.path.abspath(dst_file)), exist_ok=True)
    shutil.copyfile(src, dst_file)
    note(".gets", key_of(url))


def copy_tree(src, dst, filters):
    if src.startswith("s3://"):
        base = local(src.rstrip("/"))
        if not os.path.isdir(base):
            return
        for rel, _ in walk(base):
            if selected(rel, filters):
                get(src.rstrip("/") + "/" + rel, os.path.join(dst, rel))
    else:
        for rel, full in walk(src):
            if selected(rel, filters):
                put(full, dst.rstrip("/") + "/" + rel)


OWNER = "123456789012"  # the account of every fake bucket (s3_server.py says the same)


def get_object(argv):
    opts, rest = {}, []
    i = 0
    while i < len(argv):
        if argv[i].startswith("--"):
            opts[argv[i]] = argv[i + 1]
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    owner = opts.get("--expected-bucket-owner")
    if owner is not None and owner != OWNER:
        sys.exit("An error occurred (AccessDenied) when calling the GetObject operation: Access Denied")
    src = os.path.join(ROOT, opts["--bucket"], opts["--key"])
    if not os.path.isfile(src):
        sys.exit(
            "An error occurred (NoSuchKey) when calling the GetObject operation: The specified key does not exist."
        )
    shutil.copyfile(src, rest[0])
    note(".gets", opts["--key"])
    print(json.dumps({"ContentLength": os.path.getsize(src)}))


def main(argv):
    note(".calls", "aws " + " ".join(argv))
    if argv[:2] == ["s3api", "get-object"]:
        get_object(argv[2:])
        return
    args, filters, recursive = [], [], False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in VALUE_OPTIONS:
            if a in ("--exclude", "--include"):
                filters.append((a, argv[i + 1]))
            i += 2
            continue
        if a == "--recursive":
            recursive = True
        elif not a.startswith("--"):
            args.append(a)
        i += 1
    if args[:1] != ["s3"] or len(args) != 4:
        sys.exit(f"fake aws: unsupported: {' '.join(argv)}")
    verb, src, dst = args[1:]
    if verb == "sync":
        if os.environ.get("FAKE_AWS_FAIL_SYNC"):
            sys.exit("upload failed: An error occurred (AccessDenied) when calling the PutObject operation")
        copy_tree(src, dst, filters)
    elif verb == "cp" and recursive:
        copy_tree(src, dst, filters)
    elif verb == "cp" and src.startswith("s3://"):
        get(src, dst)
    elif verb == "cp":
        put(src, dst if not dst.endswith("/") else dst + os.path.basename(src))
    else:
        sys.exit(f"fake aws: unsupported: {' '.join(argv)}")


if __name__ == "__main__":
    main(sys.argv[1:])
