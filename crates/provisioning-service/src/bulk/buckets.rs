//! Where a task's input file and reports live: a local directory per bucket (the rules
//! engine's `s3` action's mapping, `ferrite_config::S3Targets::bucket_dir`), or S3 at
//! `[targets.s3] forward_endpoint` when that is set.

use std::path::{Path, PathBuf};

use ferrite_config::{ForwardConfig, S3Targets};
use ferrite_types::Clock;

use super::s3::S3Endpoint;

/// S3's limit on a key's length, in bytes.
const MAX_KEY: usize = 1024;

/// Where buckets live: the rules engine's `[targets.s3]` mapping over the data directory,
/// or its forward endpoint signed with `[targets.forward]`'s keys.
#[derive(Debug, Clone, Default)]
pub struct Buckets {
    pub s3: S3Targets,
    pub data_dir: PathBuf,
    pub forward: ForwardConfig,
}

impl Buckets {
    fn remote(&self) -> Option<S3Endpoint> {
        S3Endpoint::new(&self.s3.forward_endpoint, &self.forward)
    }

    /// Refuses an object a task could never read: a key a directory bucket cannot hold,
    /// or, at an endpoint, a key S3 refuses.
    pub(super) fn check(&self, bucket: &str, key: &str) -> Result<(), String> {
        if self.remote().is_none() {
            return self.object(bucket, key).map(drop);
        }
        if bucket.is_empty() || key.is_empty() || key.len() > MAX_KEY {
            return Err(format!(
                "s3://{bucket}/{key} is not an object name (a bucket and a key of 1 to {MAX_KEY} bytes)"
            ));
        }
        Ok(())
    }

    /// The file of `key` in `bucket`, refusing keys that would leave the bucket's directory.
    pub(super) fn object(&self, bucket: &str, key: &str) -> Result<PathBuf, String> {
        let dir = self.s3.bucket_dir(bucket, &self.data_dir)?;
        if key.is_empty()
            || key.starts_with('/')
            || key
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == ".." || s.contains(['\\', '\0']))
        {
            return Err(format!(
                "the key {key:?} cannot name a file in a directory bucket"
            ));
        }
        Ok(dir.join(key))
    }

    /// The whole object, refused unread when larger than `max_bytes`.
    pub(super) async fn read(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, String> {
        let too_big = |len: u64| {
            format!(
                "s3://{bucket}/{key} is {len} bytes; input files are limited to {max_bytes} bytes"
            )
        };
        if let Some(remote) = self.remote() {
            return match remote.get(bucket, key, max_bytes).await {
                Ok(body) => Ok(body.to_vec()),
                Err(e) if e.contains(&format!("larger than {max_bytes} bytes")) => Err(format!(
                    "s3://{bucket}/{key} is larger than {max_bytes} bytes; input files are limited to {max_bytes} bytes"
                )),
                Err(e) => Err(format!("Cannot read s3://{bucket}/{key}: {e}")),
            };
        }
        let path = self.object(bucket, key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.len() > max_bytes => Err(too_big(meta.len())),
            _ => tokio::fs::read(&path)
                .await
                .map_err(|e| format!("Cannot read s3://{bucket}/{key}: {e}")),
        }
    }

    /// Writes `body` as the object whole.
    pub(super) async fn write(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), String> {
        if let Some(remote) = self.remote() {
            return remote.put(bucket, key, body.into()).await;
        }
        let path = self.object(bucket, key)?;
        write_whole(&path, &body).await.map_err(|e| e.to_string())
    }

    /// What ListThingRegistrationTaskReports answers for an object: a presigned GetObject
    /// URL at an endpoint (AWS answers presigned HTTPS URLs), `s3://{bucket}/{key}` for a
    /// directory bucket, whose file is read directly.
    pub(super) fn link(&self, bucket: &str, key: &str, clock: &Clock) -> String {
        let local = || format!("s3://{bucket}/{key}");
        match self.remote() {
            Some(remote) => remote
                .presigned_get(bucket, key, clock)
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot presign a thing registration report link");
                    local()
                }),
            None => local(),
        }
    }
}

/// Writes `body` to `path` whole: a temporary file renamed into place.
async fn write_whole(path: &Path, body: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, body).await?;
    tokio::fs::rename(&tmp, path).await
}
