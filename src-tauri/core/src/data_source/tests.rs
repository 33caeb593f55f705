use super::*;
use crate::explain::Explain;

#[test]
fn an_s3_url_is_split_and_its_prefix_made_a_folder() {
    let at = |s: &str| parse_s3(s).map(|l| (l.bucket, l.prefix));
    assert_eq!(
        at("s3://my-data/datasets/points").unwrap(),
        ("my-data".into(), "datasets/points/".into())
    );
    assert_eq!(
        at("s3://my-data/datasets/points/").unwrap(),
        ("my-data".into(), "datasets/points/".into())
    );
    assert_eq!(at("s3://my-data").unwrap(), ("my-data".into(), "".into()));
    assert_eq!(at("s3://my-data/").unwrap(), ("my-data".into(), "".into()));
    for bad in [
        "s3://My_Bucket/x",
        "s3:///x",
        "s3://ab/x",
        "s3://my-data/a//b",
        "s3://my-data/a/../b",
        "s3://my-data/a\nb",
    ] {
        let err = parse_s3(bad).unwrap_err();
        assert_eq!(err.code(), "data_bad_s3_url", "{bad}");
        assert!(err.hint().unwrap().contains("s3://bucket-name/"), "{bad}");
    }
}

#[test]
fn what_is_typed_becomes_a_folder_or_an_s3_location() {
    assert_eq!(
        DataSource::parse(" s3://my-data/points ").unwrap(),
        DataSource::S3 {
            url: "s3://my-data/points/".into()
        }
    );
    assert_eq!(
        DataSource::parse("/home/marie/data").unwrap(),
        DataSource::Folder {
            path: "/home/marie/data".into()
        }
    );
    assert_eq!(DataSource::parse("  ").unwrap_err().code(), "data_empty");
}

#[test]
fn an_object_lands_under_data_dir_only_at_a_safe_path() {
    assert_eq!(s3::data_path("p/", "p/a/b.csv").as_deref(), Some("a/b.csv"));
    assert_eq!(s3::data_path("", "top.csv").as_deref(), Some("top.csv"));
    assert_eq!(s3::data_path("p/", "p/../../etc/passwd"), None);
    assert_eq!(s3::data_path("p/", "p//x"), None);
    assert_eq!(s3::data_path("p/", "q/x"), None);
    assert_eq!(s3::bucket_region(None), "us-east-1");
    assert_eq!(s3::bucket_region(Some("EU")), "eu-west-1");
    assert_eq!(s3::bucket_region(Some("eu-west-3")), "eu-west-3");
}

#[test]
fn a_typed_location_is_s3_only_and_written_one_way() {
    let view = check_s3_location("  s3://my-data/datasets/points ").unwrap();
    assert_eq!(view.url, "s3://my-data/datasets/points/");
    assert_eq!(view.bucket, "my-data");
    assert_eq!(view.prefix, "datasets/points/");
    assert_eq!(check_s3_location("s3://my-data").unwrap().prefix, "");
    for (typed, code) in [
        ("/home/marie/data", "data_bad_s3_url"),
        ("my-data/points", "data_bad_s3_url"),
        ("S3://my-data/points", "data_bad_s3_url"),
        ("s3://My_Data/points", "data_bad_s3_url"),
        ("https://my-data.s3.amazonaws.com/points", "data_bad_s3_url"),
        ("   ", "data_empty"),
    ] {
        assert_eq!(
            check_s3_location(typed).unwrap_err().code(),
            code,
            "{typed}"
        );
    }
}

#[test]
fn a_data_folder_is_summed_up_in_words_with_its_largest_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("images")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/HEAD"), "ref").unwrap();
    std::fs::write(root.join("points.csv"), vec![b'x'; 1_200_000]).unwrap();
    std::fs::write(root.join("images/a.png"), vec![b'y'; 3_000]).unwrap();
    let s = folder::summary(root).unwrap();
    assert_eq!(s.path, root);
    assert_eq!(s.file_count, 2);
    assert_eq!(s.total_bytes, 1_203_000.0);
    assert_eq!(s.headline, "2 files, 1.2 MB");
    let largest: Vec<_> = s
        .largest
        .iter()
        .map(|f| (f.path.as_str(), f.size.as_str()))
        .collect();
    assert_eq!(
        largest,
        [("points.csv", "1.2 MB"), ("images/a.png", "3.0 KB")]
    );
    assert!(
        s.never_sent.iter().any(|n| n.contains(".git")),
        "{:?}",
        s.never_sent
    );

    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        folder::summary(empty.path()).unwrap_err().code(),
        "data_empty_folder"
    );
    assert_eq!(
        folder::summary(&root.join("nope")).unwrap_err().code(),
        "data_no_folder"
    );
    assert_eq!(
        folder::summary(&root.join("points.csv"))
            .unwrap_err()
            .code(),
        "data_not_a_folder"
    );
}

#[test]
fn the_scheme_may_be_typed_in_capitals() {
    assert_eq!(
        DataSource::parse("S3://my-data/points").unwrap(),
        DataSource::S3 {
            url: "s3://my-data/points/".into()
        }
    );
}

#[test]
fn sagemaker_reads_an_s3_location_only_under_easytdv_with_safe_characters() {
    use crate::pipeline::Engine;
    let sm = Engine::SageMaker {
        instance_count: 1,
        spot: false,
    };
    let s3 = |url: &str| DataSource::S3 { url: url.into() };
    assert!(check(&s3("s3://my-data/easytdv/datasets/points/"), sm).is_ok());
    assert!(check(
        &s3("s3://my-data/easytdv/runs/20261201-120000-abcdef/outputs"),
        sm
    )
    .is_ok());
    for refused in [
        "s3://my-data/datasets/points/",
        "s3://my-data",
        "s3://my-data/easytdv/",
        "s3://my-data/easytdv/data*/",
        "s3://my-data/easytdv/data?/",
        "s3://my-data/easytdv/${aws:username}/",
        "s3://my-data/easytdvx/points/",
        // easyTDV's own folders: every project's files, environments, runs' inputs.
        "s3://my-data/easytdv/blobs/",
        "s3://my-data/easytdv/cache/",
        "s3://my-data/easytdv/runs/",
        "s3://my-data/easytdv/runs/20261201-120000-abcdef/",
        "s3://my-data/easytdv/runs/20261201-120000-abcdef/scripts/",
    ] {
        let err = check(&s3(refused), sm).unwrap_err();
        assert_eq!(err.code(), "data_not_for_sagemaker", "{refused}");
        assert!(err.hint().unwrap().contains("easytdv/"), "{refused}");
    }
    // EC2 reads them all (presigned URLs made with the person's keys).
    assert!(check(&s3("s3://my-data/datasets/points/"), Engine::Ec2).is_ok());
}
