//! The app's view of what is stored: for each bucket (and region) this
//! account's runs used, the project and data files kept there; deleting
//! them only in such a bucket (the webview names it, the history vouches).

use super::review::{self, DataReview, REVIEW_MAX_OBJECTS};
use super::{delete_files, list_files, FilesDeleted, StoredError, StoredFiles};
use crate::data_source::DataSource;
use crate::services::Services;

impl Services {
    /// The project and data files kept in the buckets this account's runs
    /// used; a bucket that cannot be listed (deleted since) is left out.
    pub async fn stored_files(&self, account_id: &str) -> Result<Vec<StoredFiles>, StoredError> {
        let mut found = Vec::new();
        for (bucket, region) in self.run_buckets(account_id)? {
            let ctx = self.context(account_id, Some(&region)).await?;
            match list_files(&ctx, &bucket).await {
                Ok(files) => found.push(files),
                Err(e) => tracing::warn!(bucket, error = %e, "stored files not listed"),
            }
        }
        Ok(found)
    }

    /// Deletes the project and data files of one bucket of this account's
    /// runs, keeping those a run in progress needs.
    pub async fn delete_stored_files(
        &self,
        account_id: &str,
        bucket: &str,
        region: &str,
    ) -> Result<FilesDeleted, StoredError> {
        if !self
            .run_buckets(account_id)?
            .contains(&(bucket.to_string(), region.to_string()))
        {
            return Err(StoredError::NotARunBucket {
                bucket: bucket.to_string(),
                region: region.to_string(),
            });
        }
        let ctx = self.context(account_id, Some(region)).await?;
        let live = self.history().with_live_resources()?;
        delete_files(&ctx, bucket, &live).await
    }
}

impl Services {
    /// What the Review step shows of a run's data (`region`: the run's).
    /// The caller checks that a folder is one the person chose.
    pub async fn review_data(
        &self,
        account_id: &str,
        region: &str,
        data: &DataSource,
    ) -> Result<DataReview, StoredError> {
        if let DataSource::Folder { path } = data {
            return Ok(review::folder_review(path)?);
        }
        let ctx = self.context(account_id, Some(region)).await?;
        review::review(&ctx, data, REVIEW_MAX_OBJECTS).await
    }
}

#[cfg(test)]
mod tests {
    use crate::explain::Explain;

    /// Attack: the webview names a bucket no run of the account used (or a
    /// run bucket in another region), to delete `easytdv/blobs/*` there.
    /// Refused before any AWS call.
    #[tokio::test]
    async fn files_are_deleted_only_in_a_bucket_and_region_of_the_accounts_runs() {
        let dir = tempfile::tempdir().unwrap();
        let services = crate::services::Services::open(dir.path()).unwrap();
        let mut res = crate::pipeline::RunResources {
            run_id: "r1".into(),
            region: "eu-west-3".into(),
            bucket: "easytdv-runs".into(),
            prefix: "easytdv/runs/r1".into(),
            ..Default::default()
        };
        res.account_id = Some("123456789012".into());
        services.history().save_resources(&res).unwrap();
        services
            .history()
            .attach_request("r1", "acct", &crate::pipeline::TrainRequest::default())
            .unwrap();
        assert_eq!(
            services.run_buckets("acct").unwrap(),
            vec![("easytdv-runs".to_string(), "eu-west-3".to_string())]
        );
        for (bucket, region) in [("company-data", "eu-west-3"), ("easytdv-runs", "us-east-1")] {
            let e = services
                .delete_stored_files("acct", bucket, region)
                .await
                .unwrap_err();
            assert_eq!(e.code(), "stored_not_a_run_bucket", "{e}");
            assert!(e.is_bad_input());
        }
    }
}
