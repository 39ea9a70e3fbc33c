//! Where a log or digest file is, and the part of its name CloudTrail controls.
//!
//! Digest files name every object by bucket and full key (`[prefix/]AWSLogs/…`). Files on
//! disk have a path instead, whose folders above `AWSLogs` are the user's. The link between
//! the two is the *delivery key*: the key from the `AWSLogs` folder on, read from the end so
//! that a prefix holding `AWSLogs` itself cannot shift it. Two names tie only when their
//! delivery keys are equal, never by substring.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// A log or digest file as the scanner or a source knows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectId {
    /// An object read from S3 (`--trail s3://…`, a live collection).
    S3 { bucket: String, key: String },
    /// A file on disk (`--trail-dir`, a bundle's `cloudtrail/`).
    Local(PathBuf),
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectId::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            ObjectId::Local(path) => write!(f, "{}", path.display()),
        }
    }
}

impl ObjectId {
    /// The delivery key (see the module doc), `None` when the name is not in CloudTrail's
    /// delivery layout.
    pub fn delivery_key(&self) -> Option<String> {
        match self {
            ObjectId::S3 { key, .. } => delivery_key(key.split('/')),
            ObjectId::Local(path) => {
                let parts: Option<Vec<&str>> = path
                    .components()
                    .map(|c| match c {
                        Component::Normal(s) => s.to_str(),
                        _ => Some(""),
                    })
                    .collect();
                delivery_key(parts?.into_iter())
            }
        }
    }
}

/// Which CloudTrail tree a delivery key is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    Logs,
    Digests,
}

/// `AWSLogs/[o-id/]{account}/{CloudTrail|CloudTrail-Digest}/{region}/YYYY/MM/DD/{name}`
/// from the last components of a key or path; `None` for any other shape (including empty
/// or `..` components, which a delivery key never has).
fn delivery_key<'a>(components: impl Iterator<Item = &'a str>) -> Option<String> {
    let parts: Vec<&str> = components.collect();
    let n = parts.len();
    if n < 8 {
        return None;
    }
    let tail = &parts[n - 7..];
    let [account, tree, region, year, month, day, name] = tail else {
        return None;
    };
    let tree_ok = matches!(*tree, "CloudTrail" | "CloudTrail-Digest");
    let date_ok = [(year, 4), (month, 2), (day, 2)]
        .iter()
        .all(|(s, len)| s.len() == *len && s.bytes().all(|b| b.is_ascii_digit()));
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let plain = |s: &str| !s.is_empty() && s != "." && s != ".." && !s.contains('\\');
    if !(tree_ok && date_ok && account_ok && plain(region) && plain(name)) {
        return None;
    }
    let start = match parts[n - 8] {
        "AWSLogs" => n - 8,
        org if org.starts_with("o-") && n >= 9 && parts[n - 9] == "AWSLogs" && plain(org) => n - 9,
        _ => return None,
    };
    Some(parts[start..].join("/"))
}

/// The tree of a delivery key.
pub fn tree(delivery_key: &str) -> Tree {
    if delivery_key.split('/').any(|c| c == "CloudTrail-Digest") {
        Tree::Digests
    } else {
        Tree::Logs
    }
}

/// Where the log file with `log_key` (a delivery key) lies on disk, given the local path
/// of a digest whose delivery key is `digest_key`: under the same folder that holds the
/// digest's `AWSLogs`.
pub fn local_sibling(digest_path: &Path, digest_key: &str, log_key: &str) -> Option<PathBuf> {
    let depth = digest_key.split('/').count();
    let mut base = digest_path.to_path_buf();
    for _ in 0..depth {
        if !base.pop() {
            return None;
        }
    }
    Some(log_key.split('/').fold(base, |p, c| p.join(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/111122223333_CloudTrail_us-east-1_20261120T0915Z_f8aba379dd64e959.json.gz";

    #[test]
    fn delivery_keys_from_s3_keys_and_paths() {
        let s3 = |key: &str| ObjectId::S3 {
            bucket: "b".into(),
            key: key.into(),
        };
        assert_eq!(s3(LOG).delivery_key().as_deref(), Some(LOG));
        assert_eq!(
            s3(&format!("ct/{LOG}")).delivery_key().as_deref(),
            Some(LOG)
        );
        // A prefix that itself holds AWSLogs does not shift the key.
        assert_eq!(
            s3(&format!("AWSLogs/x/{LOG}")).delivery_key().as_deref(),
            Some(LOG)
        );
        let org = LOG.replacen("AWSLogs/", "AWSLogs/o-abc123/", 1);
        assert_eq!(s3(&org).delivery_key().as_deref(), Some(org.as_str()));
        let local = ObjectId::Local(Path::new("/tmp/trail").join(LOG));
        assert_eq!(local.delivery_key().as_deref(), Some(LOG));
        assert_eq!(tree(LOG), Tree::Logs);
    }

    #[test]
    fn other_shapes_have_no_delivery_key() {
        let s3 = |key: &str| ObjectId::S3 {
            bucket: "b".into(),
            key: key.into(),
        };
        for key in [
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/x.json.gz",
            "AWSLogs/1111/CloudTrail/us-east-1/2026/11/20/x.json.gz",
            "AWSLogs/111122223333/Other/us-east-1/2026/11/20/x.json.gz",
            "Logs/111122223333/CloudTrail/us-east-1/2026/11/20/x.json.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/..",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/",
            "x/111122223333/CloudTrail/us-east-1/2026/11/20/x.json.gz",
        ] {
            assert_eq!(s3(key).delivery_key(), None, "{key}");
        }
    }

    #[test]
    fn log_files_sit_beside_their_digests_awslogs() {
        let digest_key = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/20/d.json.gz";
        let digest = Path::new("/data/trail").join(digest_key);
        assert_eq!(
            local_sibling(&digest, digest_key, LOG),
            Some(Path::new("/data/trail").join(LOG))
        );
        assert_eq!(tree(digest_key), Tree::Digests);
    }
}
