//! Where the blobs live, as the operator names it.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use object_store::ObjectStoreScheme;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as Key;
use serde::Deserialize;

use super::{BlobError, BlobStore};

/// A blob store location: `file:///var/lib/whetstone/blobs` (or a plain path),
/// `s3://bucket/prefix` (credentials, region and, for S3-compatible stores, the endpoint from
/// the usual `AWS_*` variables), or `memory:` (nothing survives the process; for tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobUrl {
    Local(PathBuf),
    S3(url::Url),
    Memory,
}

impl FromStr for BlobUrl {
    type Err = BlobError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| BlobError::InvalidUrl { url: text.to_owned(), reason: reason.to_owned() };
        if text.trim().is_empty() {
            return Err(invalid("it is empty"));
        }
        if text == "memory:" || text.starts_with("memory://") {
            return Ok(Self::Memory);
        }
        if !text.contains("://") {
            return Ok(Self::Local(PathBuf::from(text)));
        }
        let url = url::Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
        match url.scheme() {
            "file" => url
                .to_file_path()
                .map(Self::Local)
                .map_err(|()| invalid("a file URL needs an absolute path, as in file:///var/lib/whetstone/blobs")),
            "s3" | "s3a" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(invalid("an S3 URL names its bucket, as in s3://bucket/prefix"));
                }
                Ok(Self::S3(url))
            }
            other => Err(invalid(&format!(
                "the {other}:// scheme is not supported; use a local path or file:///…, s3://bucket/prefix (any S3-compatible store, with AWS_ENDPOINT), or memory:"
            ))),
        }
    }
}

impl fmt::Display for BlobUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(path) => write!(f, "{}", path.display()),
            Self::S3(url) => write!(f, "{url}"),
            Self::Memory => f.write_str("memory:"),
        }
    }
}

impl<'de> Deserialize<'de> for BlobUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl BlobUrl {
    pub(super) fn open(&self) -> Result<BlobStore, BlobError> {
        match self {
            Self::Local(root) => {
                let create = |source| BlobError::CreateDir { path: root.display().to_string(), source };
                std::fs::create_dir_all(root).map_err(create)?;
                let root = std::fs::canonicalize(root).map_err(create)?;
                let objects = LocalFileSystem::new_with_prefix(&root)
                    .map_err(|source| BlobError::Open { url: root.display().to_string(), source })?;
                Ok(BlobStore {
                    objects: Arc::new(objects),
                    prefix: Key::default(),
                    url: format!("file://{}", root.display()),
                    local_root: Some(root),
                })
            }
            Self::S3(url) => {
                let open = |source: object_store::Error| BlobError::Open { url: url.to_string(), source };
                let (_, prefix) = ObjectStoreScheme::parse(url).map_err(|e| open(e.into()))?;
                let objects = AmazonS3Builder::from_env().with_url(url.as_str()).build().map_err(open)?;
                Ok(BlobStore { objects: Arc::new(objects), prefix, url: url.to_string(), local_root: None })
            }
            Self::Memory => {
                Ok(BlobStore { objects: Arc::new(InMemory::new()), prefix: Key::default(), url: "memory:".to_owned(), local_root: None })
            }
        }
    }
}
