use super::*;

fn res(id: &str) -> RunResources {
    RunResources {
        run_id: id.into(),
        bucket: "b".into(),
        prefix: format!("easytdv/runs/{id}"),
        ..Default::default()
    }
}

#[test]
fn a_cli_run_in_progress_is_not_marked_interrupted() {
    let h = History::in_memory().unwrap();
    let req = TrainRequest {
        script_path: "train.py".into(),
        requirements_path: "requirements.txt".into(),
        instance_type: "t3.medium".into(),
        disk_gb: 30,
        region: "eu-west-3".into(),
        bucket: "b".into(),
        ami: None,
        max_runtime_hours: 24,
        budget_usd: None,
        engine: Default::default(),
        ..Default::default()
    };
    for (id, account) in [
        ("20260101-000000-cccccc", "cli"),
        ("20260101-000000-dddddd", "acc-1"),
    ] {
        h.save_resources(&res(id)).unwrap();
        h.attach_request(id, account, &req).unwrap();
    }
    assert_eq!(h.mark_interrupted().unwrap(), 1);
    assert_eq!(
        h.get("20260101-000000-cccccc").unwrap().outcome,
        Outcome::Running
    );
    assert_eq!(
        h.get("20260101-000000-dddddd").unwrap().outcome,
        Outcome::Failed
    );
}

#[test]
fn round_trip_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let h = History::open(&dir.path().join("history.db")).unwrap();
    h.save_resources(&res("20260101-000000-aaaaaa")).unwrap();
    let mut r = res("20260101-000000-aaaaaa");
    r.instance_id = Some("i-1".into());
    h.save_resources(&r).unwrap();
    h.set_outcome(
        &r.run_id,
        Outcome::Failed,
        Some(Step::Training),
        Some("boom"),
        None,
    )
    .unwrap();
    let got = h.get(&r.run_id).unwrap();
    assert_eq!(got.resources.instance_id.as_deref(), Some("i-1"));
    assert_eq!(
        (got.outcome, got.last_step, got.message.as_deref()),
        (Outcome::Failed, Some(Step::Training), Some("boom"))
    );
    assert_eq!(got.cleanup, Cleanup::None);
    // Deleting keeps what the run achieved; an interrupted clean-up says so.
    h.set_cleanup(&r.run_id, Cleanup::Deleting, None).unwrap();
    assert_eq!(h.mark_interrupted().unwrap(), 1);
    let got = h.get(&r.run_id).unwrap();
    assert_eq!(
        (got.outcome, got.cleanup),
        (Outcome::Failed, Cleanup::Failed)
    );
    assert!(got.cleanup_message.unwrap().contains("Delete it again"));
    h.set_cleanup(&r.run_id, Cleanup::Deleted, None).unwrap();
    assert!(h.with_live_resources().unwrap().is_empty());
    assert!(matches!(h.get("nope"), Err(HistoryError::NotFound(_))));
    drop(h);
    // Reopening keeps the data and does not re-run migrations.
    let h = History::open(&dir.path().join("history.db")).unwrap();
    assert_eq!(h.list().unwrap().len(), 1);
}

#[test]
fn two_processes_opening_a_new_history_at_once_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || History::open(&path).map(|h| h.list().map(|l| l.len())))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap().unwrap(), 0);
    }
    // A lock another process holds is waited for, never taken for damage.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("unreadable")), "{names:?}");
}

#[test]
fn a_locked_history_is_busy_not_damaged() {
    let busy = rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
        Some("database is locked".into()),
    );
    assert!(super::open::is_busy(&busy));
    let damaged = rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB),
        None,
    );
    assert!(!super::open::is_busy(&damaged));
}

#[test]
fn a_damaged_or_newer_history_is_moved_aside_and_a_new_one_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    std::fs::write(&path, b"this is not a database, just text ".repeat(200)).unwrap();
    let h = History::open(&path).unwrap();
    let aside = h.moved_aside().expect("moved aside").clone();
    assert!(aside.path.exists(), "{aside:?}");
    assert_eq!(h.list().unwrap().len(), 0);
    h.save_resources(&res("20260101-000000-aaaaaa")).unwrap();
    drop(h);
    // Written by a newer easyTDV: kept aside too, never crashes.
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let h = History::open(&path).unwrap();
    assert!(h.moved_aside().unwrap().reason.contains("newer easyTDV"));
    assert_eq!(h.list().unwrap().len(), 0);
    drop(h);
    let h = History::open(&path).unwrap();
    assert!(h.moved_aside().is_none());
}

#[test]
fn one_bad_row_never_hides_the_others() {
    let h = History::in_memory().unwrap();
    for id in ["20260101-000000-aaaaaa", "20260101-000000-bbbbbb"] {
        h.save_resources(&res(id)).unwrap();
    }
    h.with(|c| {
        c.execute(
            "UPDATE runs SET resources_json = '{broken', outcome = 'from-the-future' WHERE run_id = '20260101-000000-aaaaaa'",
            [],
        )?;
        Ok(())
    })
    .unwrap();
    let list = h.list().unwrap();
    assert_eq!(list.len(), 2);
    let bad = list
        .iter()
        .find(|r| r.run_id == "20260101-000000-aaaaaa")
        .unwrap();
    assert!(bad.message.as_deref().unwrap().contains("damaged"));
    assert_eq!(bad.outcome, Outcome::Failed);
    let good = h.get("20260101-000000-bbbbbb").unwrap();
    assert_eq!(good.resources.bucket, "b");
}

#[test]
fn stopped_is_a_real_outcome() {
    let h = History::in_memory().unwrap();
    h.save_resources(&res("20260101-000000-aaaaaa")).unwrap();
    h.set_outcome(
        "20260101-000000-aaaaaa",
        Outcome::Stopped,
        Some(Step::Training),
        Some("Stopped by you before it finished."),
        None,
    )
    .unwrap();
    let got = h.get("20260101-000000-aaaaaa").unwrap();
    assert_eq!(
        (got.outcome, got.last_step),
        (Outcome::Stopped, Some(Step::Training))
    );
    assert!(matches!(
        h.set_cleanup("nope", Cleanup::Deleted, None),
        Err(HistoryError::NotFound(_))
    ));
}
