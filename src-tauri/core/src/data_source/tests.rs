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
