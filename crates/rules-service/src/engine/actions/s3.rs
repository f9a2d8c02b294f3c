//! `s3`: the SELECT output stored as an object under a key (a template). Locally each bucket
//! is a directory (`[targets.s3].buckets`, or `{root}/{bucket}` with `root` defaulting to
//! `{data_dir}/s3`) and the key a path below it, `/` making subdirectories; a write lands
//! whole (a temporary file renamed into place) and synced before the action counts as done.
//! Keys a directory cannot hold without ambiguity or escape (empty segments, leading or
//! trailing `/`, `.` and `..`, control characters) are refused. With
//! `[targets.s3].forward_endpoint` it is S3's `PutObject` (path-style) at that endpoint,
//! `cannedAcl` sent as `x-amz-acl`; locally the ACL has no meaning and is accepted as AWS
//! accepts it.

use std::path::{Path as FsPath, PathBuf};

use http::Method;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use tokio::sync::OnceCell;

use super::forward::{Call, Forward};
use super::{Action, ActionError, BoxFuture, Deps, Job};
use ferrite_rules::{CompiledSql, Template};

/// S3's limit on a key's length, in bytes.
const MAX_KEY: usize = 1024;

/// What S3's URI encoding leaves as it is (RFC 3986's unreserved characters).
const KEY_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

const CANNED_ACLS: [&str; 8] = [
    "private",
    "public-read",
    "public-read-write",
    "aws-exec-read",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
];

pub(crate) struct S3 {
    bucket: String,
    key: Template,
    canned_acl: Option<String>,
    target: Target,
}

enum Target {
    Directory {
        dir: PathBuf,
        /// Opened on the first write, which also creates the directory.
        store: OnceCell<LocalFileSystem>,
    },
    Forward(Forward),
}

impl S3 {
    pub fn build(config: &Value, sql: &CompiledSql, deps: &Deps) -> Result<S3, String> {
        let bucket = config["bucketName"]
            .as_str()
            .filter(|b| !b.is_empty())
            .ok_or("s3 needs a bucketName")?
            .to_owned();
        let key = config["key"]
            .as_str()
            .filter(|k| !k.is_empty())
            .ok_or("s3 needs a key")?;
        let key = sql.template(key).map_err(|e| e.to_string())?;
        let canned_acl = config["cannedAcl"].as_str().map(str::to_owned);
        if let Some(acl) = &canned_acl
            && !CANNED_ACLS.contains(&acl.as_str())
        {
            return Err(format!("{acl} is not a canned ACL"));
        }
        let targets = &deps.config.targets;
        let target = match Forward::for_section(&targets.s3.forward_endpoint, &targets.forward) {
            Some(forward) => Target::Forward(forward),
            None => Target::Directory {
                dir: targets.s3.bucket_dir(&bucket, &deps.config.data_dir)?,
                store: OnceCell::new(),
            },
        };
        Ok(S3 {
            bucket,
            key,
            canned_acl,
            target,
        })
    }

    async fn put_local(
        &self,
        dir: &FsPath,
        store: &OnceCell<LocalFileSystem>,
        key: &str,
        job: &Job,
    ) -> Result<(), ActionError> {
        let path = local_key(key)?;
        let store = store
            .get_or_try_init(|| async {
                tokio::fs::create_dir_all(dir).await.map_err(|e| {
                    ActionError::transient(format!(
                        "cannot create the directory of bucket {}, {}: {e}",
                        self.bucket,
                        dir.display()
                    ))
                })?;
                LocalFileSystem::new_with_prefix(dir)
                    .map(|fs| fs.with_fsync(true))
                    .map_err(|e| ActionError::transient(e.to_string()))
            })
            .await?;
        store
            .put(&path, PutPayload::from_bytes(job.payload.clone()))
            .await
            .map(drop)
            .map_err(|e| match e {
                object_store::Error::InvalidPath { .. } => {
                    ActionError::permanent(format!("the key {key} cannot be stored as a file: {e}"))
                }
                e => ActionError::transient(format!(
                    "cannot write {key} in bucket {}: {e}",
                    self.bucket
                )),
            })
    }

    async fn put_forward(
        &self,
        forward: &Forward,
        key: &str,
        job: &Job,
    ) -> Result<(), ActionError> {
        let mut headers = Vec::new();
        if let Some(acl) = &self.canned_acl {
            headers.push(("x-amz-acl", acl.clone()));
        }
        forward
            .call(Call {
                service: "s3",
                method: Method::PUT,
                path: format!(
                    "/{}/{}",
                    utf8_percent_encode(&self.bucket, KEY_SEGMENT),
                    encode_key(key)
                ),
                headers,
                body: job.payload.clone(),
            })
            .await
            .map(drop)
    }
}

/// A key as a path inside its bucket's directory, refusing keys a directory cannot hold as
/// S3 does (distinct from every other key) or that would leave it.
fn local_key(key: &str) -> Result<Path, ActionError> {
    let refuse = |why: &str| {
        Err(ActionError::permanent(format!(
            "the key {key:?} cannot be stored in a directory bucket: {why}"
        )))
    };
    if key.is_empty() {
        return refuse("it is empty");
    }
    if key.len() > MAX_KEY {
        return refuse("it is longer than 1024 bytes");
    }
    if key.starts_with('/') || key.ends_with('/') || key.contains("//") {
        return refuse("it has an empty path segment");
    }
    if key.split('/').any(|s| s == "." || s == "..") {
        return refuse("it has a . or .. path segment");
    }
    Path::parse(key).or_else(|e| refuse(&e.to_string()))
}

/// A key in an S3 path: each segment URI-encoded, `/` kept.
fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|s| utf8_percent_encode(s, KEY_SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

impl Action for S3 {
    fn name(&self) -> &'static str {
        "S3Action"
    }

    fn resource(&self) -> String {
        self.bucket.clone()
    }

    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move {
            let key = self
                .key
                .render(job.selected(), job.raw(), job.ctx())
                .map_err(|e| ActionError::permanent(e.to_string()))?;
            match &self.target {
                Target::Directory { dir, store } => self.put_local(dir, store, &key, job).await,
                Target::Forward(forward) => self.put_forward(forward, &key, job).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn keys_become_paths_inside_the_bucket_or_are_refused() {
        assert_eq!(local_key("a/b/c.json").unwrap().as_ref(), "a/b/c.json");
        assert_eq!(
            local_key("dev-1 data%20.txt").unwrap().as_ref(),
            "dev-1 data%20.txt"
        );
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "..",
            "../x",
            "a/../../x",
            "a/./b",
            "a\u{1}b",
        ] {
            let err = local_key(bad).unwrap_err();
            assert!(!err.retry, "{bad:?}");
        }
        assert!(local_key(&"k".repeat(1025)).is_err());
    }

    #[test]
    fn forwarded_keys_are_uri_encoded_per_segment() {
        assert_eq!(encode_key("a/b c/ü+x.json"), "a/b%20c/%C3%BC%2Bx.json");
        assert_eq!(encode_key("/lead"), "/lead");
    }
}
