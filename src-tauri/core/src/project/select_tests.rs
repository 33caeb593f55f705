use super::*;
use crate::project::summary::{check, warning, ProjectSummary};

fn write(root: &Path, rel: &str, body: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

/// The example: train.py importing model.py, reading data/points.csv.
fn example(root: &Path) {
    write(
        root,
        "train.py",
        b"import model\nprint(open('data/points.csv').read())\n",
    );
    write(root, "model.py", b"W = 1\n");
    write(root, "data/points.csv", b"x,y\n1,2\n");
    write(root, "requirements.txt", b"six==1.16.0\n");
}

fn rels(s: &Selection) -> Vec<&str> {
    s.files.iter().map(|f| f.rel.as_str()).collect()
}

#[test]
fn the_script_folder_is_the_project_and_everything_in_it_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    example(dir.path());
    let script = dir.path().join("train.py");
    let root = project_root(&script, None);
    assert_eq!(root, dir.path());
    let s = select(&root, &script, &[]).unwrap();
    assert_eq!(
        rels(&s),
        [
            "data/points.csv",
            "model.py",
            "requirements.txt",
            "train.py"
        ]
    );
    assert_eq!(s.entry, "train.py");
    let on_disk: u64 = s
        .files
        .iter()
        .map(|f| std::fs::metadata(&f.path).unwrap().len())
        .sum();
    assert_eq!(s.total_bytes(), on_disk);
    assert_eq!(s.file("model.py").unwrap().size, 6);
    assert!(s.notes.is_empty() && s.never_sent.is_empty());
    // A script alone in a folder is a project of one file.
    let alone = tempfile::tempdir().unwrap();
    write(alone.path(), "train.py", b"print(1)\n");
    let one = select(alone.path(), &alone.path().join("train.py"), &[]).unwrap();
    assert_eq!(rels(&one), ["train.py"]);
}

#[test]
fn git_caches_environments_and_ignored_files_are_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    example(root);
    write(root, ".git/config", b"[core]\n");
    write(root, ".git/objects/ab/cdef", b"blob");
    write(root, "__pycache__/model.cpython-312.pyc", b"\0");
    write(root, "src/__pycache__/x.pyc", b"\0");
    write(root, "stray.pyc", b"\0");
    write(root, ".venv/bin/python", b"#!");
    write(root, "venv/lib/site.py", b"");
    write(root, "node_modules/a/index.js", b"");
    write(root, ".ipynb_checkpoints/nb-checkpoint.ipynb", b"{}");
    write(root, ".gitignore", b"checkpoints/\n*.log\n!keep.log\n");
    write(root, "checkpoints/epoch1.pt", b"weights");
    write(root, "run.log", b"log");
    write(root, "keep.log", b"kept");
    write(root, ".easytdvignore", b"data/raw/\n");
    write(root, "data/raw/big.bin", b"raw");
    write(root, "sub/.gitignore", b"local.txt\n");
    write(root, "sub/local.txt", b"x");
    write(root, "sub/other.txt", b"y");
    write(root, ".env.example", b"A=1\n");
    let s = select(root, &root.join("train.py"), &[]).unwrap();
    assert_eq!(
        rels(&s),
        [
            ".easytdvignore",
            ".env.example",
            ".gitignore",
            "data/points.csv",
            "keep.log",
            "model.py",
            "requirements.txt",
            "sub/.gitignore",
            "sub/other.txt",
            "train.py",
        ]
    );
    assert_eq!(
        s.never_sent,
        [
            ".git",
            ".ipynb_checkpoints",
            ".venv",
            "__pycache__",
            "node_modules",
            "src/__pycache__",
            "stray.pyc",
            "venv"
        ]
    );
}

#[test]
fn a_gitignore_of_a_parent_folder_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".gitignore", b"*.py\n");
    let root = dir.path().join("proj");
    example(&root);
    let s = select(&root, &root.join("train.py"), &[]).unwrap();
    assert!(rels(&s).contains(&"model.py"), "{:?}", rels(&s));
}

#[test]
fn the_script_and_requirements_go_even_when_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    example(root);
    write(root, ".easytdvignore", b"*.py\nrequirements.txt\n");
    let s = select(
        root,
        &root.join("train.py"),
        &[root.join("requirements.txt")],
    )
    .unwrap();
    assert_eq!(
        rels(&s),
        [
            ".easytdvignore",
            "data/points.csv",
            "requirements.txt",
            "train.py"
        ]
    );
    assert_eq!(s.notes.len(), 2, "{:?}", s.notes);
}

#[test]
fn an_entry_outside_the_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    example(&dir.path().join("proj"));
    write(dir.path(), "elsewhere/train.py", b"print(1)\n");
    let err = select(
        &dir.path().join("proj"),
        &dir.path().join("elsewhere/train.py"),
        &[],
    )
    .unwrap_err();
    assert!(matches!(err, ProjectError::EntryOutside { .. }), "{err}");
    // `..` does not get around it.
    let around = dir.path().join("proj/../elsewhere/train.py");
    assert!(matches!(
        select(&dir.path().join("proj"), &around, &[]).unwrap_err(),
        ProjectError::EntryOutside { .. }
    ));
    assert!(matches!(
        select(&dir.path().join("nope"), &around, &[]).unwrap_err(),
        ProjectError::RootMissing(_)
    ));
    assert!(matches!(
        select(&dir.path().join("proj/train.py"), &around, &[]).unwrap_err(),
        ProjectError::RootNotAFolder(_)
    ));
}

#[cfg(unix)]
#[test]
fn a_link_out_of_the_project_is_skipped_with_a_note_and_never_read() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "credentials", b"aws_secret_access_key=x\n");
    let root = dir.path();
    example(root);
    symlink(outside.path().join("credentials"), root.join("creds")).unwrap();
    symlink(outside.path(), root.join("home")).unwrap();
    symlink(root.join("model.py"), root.join("model_link.py")).unwrap();
    symlink(root.join("data"), root.join("data_link")).unwrap();
    symlink(root.join("gone"), root.join("dangling")).unwrap();
    let s = select(root, &root.join("train.py"), &[]).unwrap();
    assert_eq!(
        rels(&s),
        [
            "data/points.csv",
            "model.py",
            "model_link.py",
            "requirements.txt",
            "train.py"
        ]
    );
    // The link inside is sent as the file it points to.
    assert_eq!(s.file("model_link.py").unwrap().size, 6);
    let notes = s.notes.join("\n");
    assert!(
        notes.contains("creds is a link to") && notes.contains("outside the project"),
        "{notes}"
    );
    assert!(notes.contains("home is a link to"), "{notes}");
    assert!(notes.contains("data_link is a link to a folder"), "{notes}");
    assert!(notes.contains("dangling is a link to nothing"), "{notes}");
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_is_refused_by_name() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    example(root);
    let secret = root.join("private.key");
    std::fs::write(&secret, b"k").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&secret).is_ok() {
        return; // running as root: every file is readable
    }
    match select(root, &root.join("train.py"), &[]) {
        Err(ProjectError::Unreadable { path, .. }) => assert!(path.ends_with("private.key")),
        other => panic!("{other:?}"),
    }
    // Listed in .easytdvignore, it is not read at all.
    write(root, ".easytdvignore", b"*.key\n");
    select(root, &root.join("train.py"), &[]).unwrap();
}

#[test]
fn a_large_project_is_told_which_files_make_it_large() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    example(root);
    // Sparse files: sizes without writing gigabytes.
    for (name, size) in [
        ("data/a.bin", 700_000_000u64),
        ("data/b.bin", 400_000_000),
        ("model.ckpt", 100_000_000),
    ] {
        let f = std::fs::File::create(root.join(name)).unwrap();
        f.set_len(size).unwrap();
    }
    let s = select(root, &root.join("train.py"), &[]).unwrap();
    let w = warning(&s).expect("a warning");
    assert!(w.starts_with("1.2 GB in 3 files: is this data?"), "{w}");
    let f = std::fs::File::create(root.join("data/c.bin")).unwrap();
    f.set_len(MAX_BYTES).unwrap();
    match select(root, &root.join("train.py"), &[]) {
        Err(e @ ProjectError::TooLarge { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("data/c.bin (2.1 GB)") && text.contains("data/a.bin (700 MB)"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_summary_counts_sizes_and_finds_the_requirements() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    example(root);
    write(root, "reqs/base.txt", b"numpy\n");
    write(root, "requirements.txt", b"-r reqs/base.txt\n");
    write(root, ".easytdvignore", b"reqs/\n");
    let inputs = check(root, &root.join("train.py"), &root.join("requirements.txt")).unwrap();
    // The included file is sent although a rule leaves its folder out.
    assert!(inputs.selection.file("reqs/base.txt").is_some());
    assert_eq!(inputs.requirements.as_deref(), Some("requirements.txt"));
    let summary = ProjectSummary::of(&inputs);
    assert_eq!(summary.file_count, 6);
    assert_eq!(summary.largest[0].path, "train.py");
    assert!(summary.warning.is_none());
    assert_eq!(
        summary.line(),
        format!("6 files, {} bytes", summary.total_bytes)
    );
    // A requirements file outside the project is used, not part of it.
    let other = tempfile::tempdir().unwrap();
    write(other.path(), "requirements.txt", b"six\n");
    let inputs = check(
        root,
        &root.join("train.py"),
        &other.path().join("requirements.txt"),
    )
    .unwrap();
    assert_eq!(inputs.requirements, None);
}

/// On Windows a project file is `data\train.csv` on disk; in S3 and on the
/// machine it is `data/train.csv` (this test runs under Wine in CI).
#[test]
fn a_files_path_in_the_bucket_and_on_the_machine_uses_slashes() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("data").join("raw").join("train.csv");
    std::fs::create_dir_all(nested.parent().unwrap()).unwrap();
    std::fs::write(&nested, b"x\n").unwrap();
    let script = dir.path().join("src").join("train.py");
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    std::fs::write(&script, b"print(1)\n").unwrap();
    if cfg!(windows) {
        assert!(
            nested.to_string_lossy().contains('\\'),
            "{}",
            nested.display()
        );
    }
    let s = select(dir.path(), &script, &[]).unwrap();
    assert_eq!(rels(&s), ["data/raw/train.csv", "src/train.py"]);
    assert_eq!(s.entry, "src/train.py");
    assert!(s
        .files
        .iter()
        .all(|f| super::super::manifest::safe_path(&f.rel)));
}
