//! The one object store for logs and digests: where the objects are ([`Source`]), the key
//! grammar ([`layout`]), the prefix plan from scope × window ([`Layout::plan`]), S3 and a local
//! copy behind one interface ([`Store`]), one mapping of read errors to statuses
//! ([`ReadError`]) and one discovery of the organization id, accounts and regions.
//!
//! Listing streams keys into a bounded channel (never a whole bucket in memory); reading an
//! object is capped in bytes. A local copy is walked on a blocking thread, never on the
//! async reactor.

pub mod layout;
mod local;
pub mod s3;

use std::collections::HashMap;
use std::path::PathBuf;

use tokio::sync::mpsc;

pub use local::read_capped;
pub use s3::{UploadError, fetch_object, upload_dir};

use crate::time::Window;

/// Objects larger than this (as stored, MiB) are not read: `too_large`.
pub const DEFAULT_MAX_OBJECT_MIB: u64 = 256;

/// Where the logs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory laid out like the bucket (what `aws s3 sync` leaves).
    Local(PathBuf),
    /// `s3://bucket[/prefix]`: the prefix is the trail's key prefix (before `AWSLogs/`).
    S3 {
        bucket: String,
        prefix: Option<String>,
    },
}

impl Source {
    /// The trail's key prefix (S3 only: a local copy is rooted at the bucket).
    pub fn prefix(&self) -> Option<&str> {
        match self {
            Source::S3 { prefix, .. } => prefix.as_deref(),
            Source::Local(_) => None,
        }
    }
}

impl std::str::FromStr for Source {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("'{s}': no bucket name"));
            }
            let prefix = prefix.trim_matches('/');
            Ok(Source::S3 {
                bucket: bucket.to_owned(),
                prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            })
        } else {
            Ok(Source::Local(PathBuf::from(s)))
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Local(p) => write!(f, "{}", p.display()),
            Source::S3 {
                bucket,
                prefix: Some(p),
            } => write!(f, "s3://{bucket}/{p}"),
            Source::S3 {
                bucket,
                prefix: None,
            } => write!(f, "s3://{bucket}"),
        }
    }
}

/// Why an object could not be read: `status` is the `files.parquet` status
/// (`access_denied`, `not_found`, `fetch_failed`, `too_large`), `error` names the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub status: &'static str,
    pub error: String,
}

impl ReadError {
    /// The one mapping of local I/O errors to statuses: `not_found`, `access_denied`, and
    /// `read_failed` for anything else (an I/O error is not an absence).
    pub fn from_io(what: &std::path::Path, e: &std::io::Error) -> Self {
        ReadError {
            status: match e.kind() {
                std::io::ErrorKind::NotFound => "not_found",
                std::io::ErrorKind::PermissionDenied => "access_denied",
                _ => "read_failed",
            },
            error: format!("{}: {e}", what.display()),
        }
    }

    /// A FIFO, socket or device named like an object: never opened (it could block forever
    /// or never end).
    pub fn not_a_file(what: &std::path::Path) -> Self {
        ReadError {
            status: "not_a_file",
            error: format!("{}: not a regular file", what.display()),
        }
    }

    pub fn too_large(size: u64, cap: u64) -> Self {
        ReadError {
            status: "too_large",
            error: format!("{size} bytes exceed the {cap}-byte object cap"),
        }
    }
}

/// An object's bytes, its user metadata (S3 `x-amz-meta-*`) and ETag (none for a local copy).
pub struct Object {
    pub bytes: bytes::Bytes,
    pub metadata: HashMap<String, String>,
    pub etag: Option<String>,
}

/// One listed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub size: u64,
    /// False for a FIFO, socket or device in a local copy: listed, never opened.
    pub regular: bool,
}

/// S3 or a local copy, behind one interface. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Store {
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
    },
    Local(PathBuf),
}

impl Store {
    /// The store of `source`; an S3 source needs a client.
    pub fn open(source: &Source, s3: Option<aws_sdk_s3::Client>) -> crate::Result<Store> {
        match source {
            Source::S3 { bucket, .. } => Ok(Store::S3 {
                client: s3.ok_or_else(|| crate::Error::usage("an S3 source needs AWS settings"))?,
                bucket: bucket.clone(),
            }),
            Source::Local(root) => {
                if !root.is_dir() {
                    return Err(crate::Error::new(
                        crate::ErrorKind::Io,
                        format!("{} is not a directory", root.display()),
                    ));
                }
                Ok(Store::Local(root.clone()))
            }
        }
    }

    /// The bucket name (empty for a local copy: where a digest says it was is all there is
    /// to go by).
    pub fn bucket(&self) -> &str {
        match self {
            Store::S3 { bucket, .. } => bucket,
            Store::Local(_) => "",
        }
    }

    /// Whether objects carry user metadata (S3) or not (a local copy).
    pub fn has_metadata(&self) -> bool {
        matches!(self, Store::S3 { .. })
    }

    /// The "folders" directly under `prefix` (which ends in `/`).
    pub async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>, String> {
        match self {
            Store::S3 { client, bucket } => s3::list_dirs(client, bucket, prefix)
                .await
                .map_err(|f| f.summary()),
            Store::Local(root) => {
                let dir = root.join(prefix);
                tokio::task::spawn_blocking(move || local::list_dirs(&dir))
                    .await
                    .expect("directory lister panicked")
            }
        }
    }

    /// Sends every key under `prefix` (`""`: the whole store) into `tx`, in key order;
    /// returns how many were sent. Stops early, without error, when the receiver is gone.
    pub async fn list(&self, prefix: &str, tx: mpsc::Sender<Entry>) -> Result<u64, String> {
        match self {
            Store::S3 { client, bucket } => s3::list(client, bucket, prefix, &tx).await,
            Store::Local(root) => {
                let (root, prefix) = (root.clone(), prefix.to_owned());
                tokio::task::spawn_blocking(move || local::walk(&root, &prefix, &tx))
                    .await
                    .expect("directory walker panicked")
            }
        }
    }

    /// Every key under `prefix`, collected (for small listings: one day of one chain).
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, String> {
        let (tx, mut rx) = mpsc::channel(256);
        let listing = self.list(prefix, tx);
        let collect = async {
            let mut keys = Vec::new();
            while let Some(e) = rx.recv().await {
                keys.push(e.key);
            }
            keys
        };
        let (listed, keys) = tokio::join!(listing, collect);
        listed.map(|_| keys)
    }

    /// When an object was stored (S3 LastModified), epoch seconds; `None` when it cannot be
    /// had, and for a local copy.
    pub async fn last_modified(&self, key: &str) -> Option<i64> {
        match self {
            Store::S3 { client, bucket } => {
                let head = client.head_object().bucket(bucket).key(key).send().await;
                match head {
                    Ok(h) => h.last_modified().map(|t| t.secs()),
                    Err(e) => {
                        let failure = crate::aws::ApiFailure::from_sdk("s3:GetObject", None, &e);
                        tracing::warn!(key, error = %failure.summary(), "Cannot read an object's LastModified.");
                        None
                    }
                }
            }
            // A copy's modification time is when it was copied, not when it was delivered.
            Store::Local(_) => None,
        }
    }

    /// Reads one object whole, with its metadata; larger than `max_bytes` is `too_large`.
    pub async fn get(&self, key: &str, max_bytes: u64) -> Result<Object, ReadError> {
        match self {
            Store::S3 { client, bucket } => fetch_object(client, bucket, key, max_bytes).await,
            Store::Local(root) => {
                let path = root.join(key);
                tokio::task::spawn_blocking(move || {
                    let mut buf = Vec::new();
                    read_capped(&path, max_bytes, &mut buf)?;
                    Ok(Object {
                        bytes: buf.into(),
                        metadata: HashMap::new(),
                        etag: None,
                    })
                })
                .await
                .expect("file reader panicked")
            }
        }
    }
}

/// What a run reads: the accounts, regions and organization of the key layout. `None`
/// fields are discovered from the layout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub accounts: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    pub org_id: Option<String>,
    /// `--shard K/N`: only the cells this shard owns.
    pub shard: Option<crate::shard::Shard>,
}

impl Scope {
    /// Whether an (account, region) of a key is in scope.
    pub fn contains(&self, account: &str, region: &str) -> bool {
        self.shard.is_none_or(|s| s.owns(account, region)) && self.lists(account, region)
    }

    /// Whether an (account, region) is in the accounts and regions asked for, whatever the
    /// shard: what a run expects is the same in every shard.
    pub fn lists(&self, account: &str, region: &str) -> bool {
        self.accounts
            .as_ref()
            .is_none_or(|a| a.iter().any(|x| x == account))
            && self
                .regions
                .as_ref()
                .is_none_or(|r| r.iter().any(|x| x == region))
    }
}

/// One prefix to list: an (account, region) and, with a window, one delivery day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub account: String,
    pub region: String,
    /// The prefix to list (ends in `/`).
    pub prefix: String,
    /// The delivery day (days since 1970-01-01); `None`: the whole region folder.
    pub day: Option<i64>,
}

/// The layout of a trail's keys in a store: `[P/]AWSLogs/[o-ORG/]` and its accounts.
#[derive(Debug, Clone)]
pub struct Layout {
    pub prefix: Option<String>,
    pub org_id: Option<String>,
    pub accounts: Vec<String>,
}

impl Layout {
    /// The one discovery: the organization id (the `o-…` folder under `AWSLogs/`) and the
    /// accounts (12-digit folders), unless the scope names them.
    pub async fn discover(
        store: &Store,
        prefix: Option<&str>,
        scope: &Scope,
    ) -> Result<Layout, String> {
        let fail = |what: &str, e: String| format!("cannot list {what}: {e}");
        let base = layout::aws_logs_root(prefix, None);
        let org_id = match &scope.org_id {
            Some(o) => Some(o.clone()),
            None => store
                .list_dirs(&base)
                .await
                .map_err(|e| fail(&base, e))?
                .into_iter()
                .find(|d| d.starts_with("o-")),
        };
        let root = layout::aws_logs_root(prefix, org_id.as_deref());
        let accounts = match &scope.accounts {
            Some(a) => a.clone(),
            None => store
                .list_dirs(&root)
                .await
                .map_err(|e| fail(&root, e))?
                .into_iter()
                .filter(|d| d.len() == 12 && d.bytes().all(|b| b.is_ascii_digit()))
                .collect(),
        };
        Ok(Layout {
            prefix: prefix.map(str::to_owned),
            org_id,
            accounts,
        })
    }

    /// `[P/]AWSLogs/[o-ORG/]`.
    pub fn root(&self) -> String {
        layout::aws_logs_root(self.prefix.as_deref(), self.org_id.as_deref())
    }

    /// The (account, region) pairs of a service folder (`CloudTrail`, `CloudTrail-Digest`):
    /// the scope's regions, else the region folders found; every shard's (a shard reads only
    /// those [`Scope::contains`]).
    pub async fn pairs(
        &self,
        store: &Store,
        service: &str,
        scope: &Scope,
    ) -> Result<Vec<(String, String)>, String> {
        let mut pairs = Vec::new();
        for account in &self.accounts {
            match &scope.regions {
                Some(r) => pairs.extend(r.iter().map(|r| (account.clone(), r.clone()))),
                None => {
                    let p = format!("{}{account}/{service}/", self.root());
                    let (regions, others): (Vec<String>, Vec<String>) = store
                        .list_dirs(&p)
                        .await
                        .map_err(|e| format!("cannot list {p}: {e}"))?
                        .into_iter()
                        .partition(|r| crate::regions::is_region_name(r));
                    if !others.is_empty() {
                        tracing::warn!(
                            prefix = %p,
                            folders = %others.join(", "),
                            "Folders that are not region names are not read (their objects are not CloudTrail's)."
                        );
                    }
                    pairs.extend(regions.into_iter().map(|r| (account.clone(), r)));
                }
            }
        }
        Ok(pairs)
    }

    /// The prefix plan: one prefix per (account, region, delivery day in `days`), or one
    /// per region folder when `days` is `None`. Lazy: a long window over many accounts and
    /// regions is millions of prefixes, made one at a time as they are listed.
    pub fn plan<'a>(
        &'a self,
        pairs: &'a [(String, String)],
        service: &'a str,
        days: Option<std::ops::RangeInclusive<i64>>,
    ) -> impl Iterator<Item = Planned> + 'a {
        pairs.iter().flat_map(move |(account, region)| {
            let per_day: Box<dyn Iterator<Item = Planned>> = match &days {
                Some(days) => Box::new(days.clone().map(move |day| Planned {
                    account: account.clone(),
                    region: region.clone(),
                    prefix: layout::day_prefix(
                        self.prefix.as_deref(),
                        self.org_id.as_deref(),
                        account,
                        service,
                        region,
                        day,
                    ),
                    day: Some(day),
                })),
                None => Box::new(std::iter::once(Planned {
                    account: account.clone(),
                    region: region.clone(),
                    prefix: format!("{}{account}/{service}/{region}/", self.root()),
                    day: None,
                })),
            };
            per_day
        })
    }
}

impl Planned {
    /// The span of time this prefix holds deliveries for: its day, else the window's bounds
    /// (nothing when unbounded).
    pub fn span(&self, window: &Window) -> (i64, i64) {
        match self.day {
            Some(day) => (day * crate::time::DAY, (day + 1) * crate::time::DAY),
            None => window.bounds().unwrap_or((0, 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse() {
        assert_eq!(
            "s3://b".parse(),
            Ok(Source::S3 {
                bucket: "b".into(),
                prefix: None
            })
        );
        assert_eq!(
            "s3://b/p/q/".parse(),
            Ok(Source::S3 {
                bucket: "b".into(),
                prefix: Some("p/q".into())
            })
        );
        assert_eq!("./logs".parse(), Ok(Source::Local(PathBuf::from("./logs"))));
        assert!("s3://".parse::<Source>().is_err());
    }

    #[test]
    fn read_errors_keep_their_kind() {
        let p = std::path::Path::new("k");
        let status = |e: std::io::Error| ReadError::from_io(p, &e).status;
        assert_eq!(status(std::io::Error::from_raw_os_error(5)), "read_failed"); // EIO
        assert_eq!(status(std::io::ErrorKind::NotFound.into()), "not_found");
        assert_eq!(
            status(std::io::ErrorKind::PermissionDenied.into()),
            "access_denied"
        );
        let mut buf = Vec::new();
        let fifo = tempfile::tempdir().unwrap();
        let f = fifo.path().join("f");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&f)
                .status()
                .unwrap()
                .success()
        );
        // Refused before it is opened: opening a FIFO for reading would block.
        assert_eq!(
            read_capped(&f, 10, &mut buf).unwrap_err().status,
            "not_a_file"
        );
    }

    #[tokio::test]
    async fn a_local_store_lists_in_key_order_and_discovers_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for k in [
            "AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2026/01/01/b.json.gz",
            "AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2026/01/01/a.json.gz",
            "AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/2026/01/02/c.json.gz",
            "AWSLogs/o-abc/notanaccount/x",
        ] {
            let p = root.join(k);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"x").unwrap();
        }
        let store = Store::open(&Source::Local(root.to_owned()), None).unwrap();
        let keys = store.list_keys("").await.unwrap();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(keys.len(), 4);
        assert!(
            store
                .list_keys("AWSLogs/nothing/")
                .await
                .unwrap()
                .is_empty()
        );
        let layout = Layout::discover(&store, None, &Scope::default())
            .await
            .unwrap();
        assert_eq!(layout.org_id.as_deref(), Some("o-abc"));
        assert_eq!(layout.accounts, vec!["111122223333".to_owned()]);
        let mut pairs = layout
            .pairs(&store, "CloudTrail", &Scope::default())
            .await
            .unwrap();
        pairs.sort();
        assert_eq!(
            pairs,
            vec![
                ("111122223333".to_owned(), "eu-west-1".to_owned()),
                ("111122223333".to_owned(), "us-east-1".to_owned())
            ]
        );
        let w = Window::new(20_454 * 86_400, 20_454 * 86_400 + 3_600, 3_600);
        let plan: Vec<Planned> = layout
            .plan(&pairs, "CloudTrail", w.delivery_days())
            .collect();
        assert_eq!(plan.len(), 2);
        assert_eq!(
            plan[1].prefix,
            "AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2026/01/01/"
        );
        let got = store.get(&keys[0], 0).await.map(|_| ()).unwrap_err();
        assert_eq!(got.status, "too_large");
        let got = store
            .get("AWSLogs/missing", 10)
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(got.status, "not_found");
    }
}
