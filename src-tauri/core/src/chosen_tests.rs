use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// What a webview script would ask for: a file of secrets, as
/// "requirements" (each `name=value` line passes as a package).
fn credentials(dir: &Path) -> PathBuf {
    let p = dir.join("credentials");
    std::fs::write(
        &p,
        format!("aws_access_key_id=AKIAIOSFODNN7EXAMPLE\naws_secret_access_key={SECRET}\n"),
    )
    .unwrap();
    p
}

#[test]
fn a_file_not_chosen_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = credentials(dir.path());
    // Read as before, the file's lines go back as packages.
    let (leaky, _) = read_input(FileKind::Requirements, &path).unwrap();
    assert!(leaky.packages.iter().any(|p| p.contains(SECRET)));

    let chosen = Chosen::default();
    let err = chosen
        .check_file(FileKind::Requirements, &path)
        .unwrap_err();
    assert_eq!(err.code(), "file_not_chosen");
    let told = format!("{err} {}", err.hint().unwrap_or_default());
    assert!(!told.contains(SECRET) && !told.contains("AKIA"), "{told}");
    // A path that does not exist gets the same answer: nothing is learnt.
    let missing = chosen
        .check_file(FileKind::Requirements, &dir.path().join("nope"))
        .unwrap_err();
    assert_eq!(missing.code(), "file_not_chosen");
    // `..` does not turn a chosen file's folder into a way in.
    chosen.add_file(&dir.path().join("requirements.txt"));
    let around = dir.path().join("x/../credentials");
    assert_eq!(
        chosen
            .check_file(FileKind::Requirements, &around)
            .unwrap_err()
            .code(),
        "file_not_chosen"
    );

    // Chosen (dialog, drop), it is read and checked as usual.
    let req = dir.path().join("requirements.txt");
    std::fs::write(&req, "numpy==2.1.0\n").unwrap();
    let file = chosen.check_file(FileKind::Requirements, &req).unwrap();
    assert_eq!(file.packages, vec!["numpy==2.1.0".to_string()]);
}

#[test]
fn a_run_starts_only_from_chosen_files() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("train.py");
    let req = dir.path().join("requirements.txt");
    let request = TrainRequest {
        script_path: script.clone(),
        requirements_path: credentials(dir.path()),
        instance_type: "t3.medium".into(),
        disk_gb: 30,
        region: "eu-west-3".into(),
        bucket: "b-1".into(),
        ami: None,
        max_runtime_hours: 2,
        budget_usd: None,
        engine: Default::default(),
        ..Default::default()
    };
    std::fs::write(&script, "print(1)\n").unwrap();
    let chosen = Chosen::default();
    chosen.add_file(&script);
    // Chosen but not yet checked as the script: its folder is not a project yet.
    assert_eq!(
        chosen.check_request(&request).unwrap_err().code(),
        "project_not_chosen"
    );
    chosen.check_file(FileKind::Script, &script).unwrap();
    chosen.add_file(&req);
    let err = chosen.check_request(&request).unwrap_err();
    assert_eq!(err.code(), "file_not_chosen");
    let ok = TrainRequest {
        requirements_path: req,
        ..request
    };
    chosen.check_request(&ok).unwrap();
    // Another folder as the project: only one chosen as such.
    let up = TrainRequest {
        project_dir: Some(dir.path().join("..")),
        ..ok.clone()
    };
    assert_eq!(
        chosen.check_request(&up).unwrap_err().code(),
        "project_not_chosen"
    );
    let around = TrainRequest {
        project_dir: Some(dir.path().join("x/..")),
        ..ok.clone()
    };
    assert_eq!(
        chosen.check_request(&around).unwrap_err().code(),
        "project_not_chosen"
    );
}

#[test]
fn a_project_is_shown_only_for_a_chosen_folder_and_never_reads_a_file_the_webview_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("proj");
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("train.py"), "import model\n").unwrap();
    std::fs::write(root.join("model.py"), "W = 1\n").unwrap();
    std::fs::write(root.join("data/points.csv"), "x\n").unwrap();
    std::fs::write(root.join("requirements.txt"), "six==1.16.0\n").unwrap();
    let creds = credentials(&root);
    let chosen = Chosen::default();
    // Nothing chosen: nothing read.
    for (r, s) in [
        (Some(root.as_path()), None),
        (None, Some(root.join("train.py"))),
    ] {
        assert_eq!(
            chosen.project(r, s.as_deref(), None).unwrap_err().code(),
            "project_not_chosen"
        );
    }
    // A folder chosen with the dialog: its train.py and requirements.txt are found.
    chosen.add_project_root(&root);
    let view = chosen.project(Some(&root), None, None).unwrap();
    assert_eq!(view.script.name, "train.py");
    assert_eq!(view.requirements.unwrap().packages, vec!["six==1.16.0"]);
    assert_eq!(view.summary.entry, "train.py");
    assert_eq!(view.summary.file_count, 5);
    assert_eq!(
        view.summary.requirements.as_deref(),
        Some("requirements.txt")
    );
    // The webview names a file in the folder as requirements: refused unread.
    let err = chosen.project(Some(&root), None, Some(&creds)).unwrap_err();
    assert_eq!(err.code(), "file_not_chosen");
    // A run from that folder, with its own requirements, is allowed.
    let mut request = TrainRequest {
        script_path: root.join("model.py"),
        requirements_path: root.join("requirements.txt"),
        instance_type: "t3.medium".into(),
        disk_gb: 30,
        region: "eu-west-3".into(),
        bucket: "b-1".into(),
        ami: None,
        max_runtime_hours: 2,
        budget_usd: None,
        engine: Default::default(),
        project_dir: Some(root.clone()),
        ..Default::default()
    };
    chosen.check_request(&request).unwrap();
    request.requirements_path = creds;
    assert_eq!(
        chosen.check_request(&request).unwrap_err().code(),
        "file_not_chosen"
    );
    // A script outside the folder.
    let out = dir.path().join("other.py");
    std::fs::write(&out, "print(1)\n").unwrap();
    chosen.add_file(&out);
    let err = chosen.project(Some(&root), Some(&out), None).unwrap_err();
    assert_eq!(err.code(), "entry_outside_project");
    // A folder with no train.py.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    chosen.add_project_root(&empty);
    assert_eq!(
        chosen.project(Some(&empty), None, None).unwrap_err().code(),
        "no_script_in_folder"
    );
}

#[test]
fn only_folders_the_app_made_open() {
    let dir = tempfile::tempdir().unwrap();
    let made = dir.path().join("easytdv-r1");
    std::fs::create_dir(&made).unwrap();
    let chosen = Chosen::default();
    for other in [
        dir.path().to_path_buf(),
        PathBuf::from("/etc"),
        made.clone(),
    ] {
        assert_eq!(
            chosen.open_folder(&other).unwrap_err().code(),
            "folder_not_ours",
            "{}",
            other.display()
        );
    }
    chosen.add_folder(&made);
    assert_eq!(chosen.check_folder(&made).unwrap(), made.as_path());
    // Its parent, or a path through it, is not the folder.
    assert!(chosen.check_folder(dir.path()).is_err());
    assert!(chosen.check_folder(&made.join("..")).is_err());
    // A file (or a link) put in its place is not opened.
    std::fs::remove_dir(&made).unwrap();
    std::fs::write(&made, "#!/bin/sh\n").unwrap();
    assert_eq!(
        chosen.open_folder(&made).unwrap_err().code(),
        "not_a_folder"
    );
    #[cfg(unix)]
    {
        std::fs::remove_file(&made).unwrap();
        std::os::unix::fs::symlink("/etc", &made).unwrap();
        assert_eq!(
            chosen.open_folder(&made).unwrap_err().code(),
            "not_a_folder"
        );
    }
}

#[test]
fn only_files_the_app_downloaded_open() {
    let dir = tempfile::tempdir().unwrap();
    let made = dir.path().join("train.executed.ipynb");
    std::fs::write(&made, "{}").unwrap();
    let other = dir.path().join("other.ipynb");
    std::fs::write(&other, "{}").unwrap();
    let chosen = Chosen::default();
    // Not downloaded by the app (or only chosen for reading): refused.
    chosen.add_file(&other);
    for p in [made.as_path(), other.as_path(), Path::new("/etc/passwd")] {
        assert_eq!(
            chosen.open_file(p).unwrap_err().code(),
            "file_not_ours",
            "{}",
            p.display()
        );
    }
    chosen.add_made_file(&made);
    assert_eq!(chosen.check_made_file(&made).unwrap(), made.as_path());
    assert!(chosen
        .check_made_file(&dir.path().join("x/../train.executed.ipynb"))
        .is_err());
    // A folder or a link put in its place is not opened.
    std::fs::remove_file(&made).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/passwd", &made).unwrap();
        assert_eq!(chosen.open_file(&made).unwrap_err().code(), "not_a_file");
        std::fs::remove_file(&made).unwrap();
    }
    std::fs::create_dir(&made).unwrap();
    assert_eq!(chosen.open_file(&made).unwrap_err().code(), "not_a_file");
}

#[test]
fn a_data_folder_is_sent_only_when_chosen_with_the_dialog() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("train.py"), "print(1)\n").unwrap();
    std::fs::write(root.join("requirements.txt"), "").unwrap();
    let home = dir.path().join("home/.ssh");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("id_ed25519"), "PRIVATE").unwrap();
    let chosen = Chosen::default();
    chosen.add_file(&root.join("train.py"));
    chosen
        .check_file(FileKind::Script, &root.join("train.py"))
        .unwrap();
    let with = |path: PathBuf| TrainRequest {
        script_path: root.join("train.py"),
        requirements_path: root.join("requirements.txt"),
        data: Some(DataSource::Folder { path }),
        ..Default::default()
    };
    // A folder the webview names, not chosen: refused, whatever it holds.
    for other in [
        home.clone(),
        root.join("../home/.ssh"),
        root.join("data/../../home/.ssh"),
    ] {
        assert_eq!(
            chosen
                .check_request(&with(other.clone()))
                .unwrap_err()
                .code(),
            "data_not_chosen",
            "{}",
            other.display()
        );
    }
    // Inside the project but not chosen: refused too (the project folder
    // may be a home folder; its .git or a gitignored folder is not data).
    for inside in [root.join("data"), root.join(".git")] {
        assert_eq!(
            chosen.check_request(&with(inside)).unwrap_err().code(),
            "data_not_chosen"
        );
    }
    chosen.add_data_folder(&root.join("data"));
    chosen.check_request(&with(root.join("data"))).unwrap();
    #[cfg(unix)]
    {
        // A path through a link is not the folder chosen.
        std::os::unix::fs::symlink(&home, root.join("keys")).unwrap();
        assert_eq!(
            chosen
                .check_request(&with(root.join("data/../keys")))
                .unwrap_err()
                .code(),
            "data_not_chosen"
        );
    }
    chosen.add_data_folder(&home);
    chosen.check_request(&with(home)).unwrap();
    // An S3 location names nothing here.
    let s3 = TrainRequest {
        data: Some(DataSource::S3 {
            url: "s3://my-data/x/".into(),
        }),
        ..with(root.join("data"))
    };
    chosen.check_request(&s3).unwrap();
}

#[test]
fn a_recorded_run_keeps_its_data_folder_and_project_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/train.py"), "print(1)\n").unwrap();
    std::fs::write(root.join("requirements.txt"), "").unwrap();
    let data = dir.path().join("datasets/points");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("points.csv"), "x,y\n1,2\n").unwrap();
    let request = TrainRequest {
        script_path: root.join("src/train.py"),
        requirements_path: root.join("requirements.txt"),
        project_dir: Some(root.clone()),
        data: Some(DataSource::Folder { path: data.clone() }),
        ..Default::default()
    };
    let chosen = Chosen::default();
    chosen.add_file(&request.script_path);
    assert_eq!(
        chosen.check_request(&request).unwrap_err().code(),
        "project_not_chosen"
    );
    let summary = chosen.add_recorded(&request).unwrap();
    assert_eq!(summary.headline, "1 file, 8 bytes");
    chosen.check_request(&request).unwrap();
    // Gone since: nothing to show (the launch says the folder is missing).
    std::fs::remove_dir_all(&data).unwrap();
    assert!(Chosen::default().add_recorded(&request).is_none());
}

/// The Review step's data review names a folder too: only one chosen with
/// the dialog is looked at (sizes of anything else would leak what a
/// folder holds); an S3 location names nothing on this computer.
#[test]
fn the_data_review_looks_only_at_a_chosen_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let chosen = Chosen::default();
    let folder = |path: PathBuf| DataSource::Folder { path };
    assert_eq!(
        chosen
            .check_data(Some(&folder(dir.path().join(".ssh"))))
            .unwrap_err()
            .code(),
        "data_not_chosen"
    );
    chosen.add_data_folder(&dir.path().join("points"));
    chosen
        .check_data(Some(&folder(dir.path().join("points"))))
        .unwrap();
    assert_eq!(
        chosen
            .check_data(Some(&folder(dir.path().join("points/.."))))
            .unwrap_err()
            .code(),
        "data_not_chosen"
    );
    chosen
        .check_data(Some(&DataSource::S3 {
            url: "s3://b/x/".into(),
        }))
        .unwrap();
}
