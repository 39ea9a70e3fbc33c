//! The read-side pure functions on the `readers-*` fixtures: the static reading of each
//! bundle's key policy, grants and bucket policy, and each allow-list against the principals
//! that read. `read_side` in the fixture's expected.json says what must be found.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::allowlist::{AllowList, ReadScope};
use super::arn::PrincipalArn;
use super::observed::ReadOperation;
use super::policy::Grantee;
use super::possible::{Answer, Flag, JobScope, possible_readers};
use crate::evidence::bundle;
use crate::model::TimeWindow;
use crate::model::partition_of_region;

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("readers-")
        })
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 4, "{dirs:?}");
    dirs
}

/// Each fixture's one job and its `read_side` expectations.
fn read_side(dir: &Path) -> Value {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let jobs = expected["jobs"].as_object().unwrap();
    assert_eq!(jobs.len(), 1);
    jobs.values().next().unwrap()["read_side"].clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

fn principals(answer: &Answer) -> Vec<String> {
    match answer {
        Answer::Read { access, .. } => access
            .grantees
            .iter()
            .map(|g: &Grantee| g.principal.to_string())
            .collect(),
        other => panic!("not read: {other:?}"),
    }
}

#[test]
fn the_static_reading_names_each_fixtures_principals_and_flags() {
    for dir in fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let want = read_side(&dir);
        let evidence = bundle::load(&dir).unwrap();
        let key = evidence
            .keys
            .iter()
            .find(|k| k.arn == want["key"])
            .unwrap_or_else(|| panic!("{name}: no key"));
        let (bucket, folder) = (
            want["output"][0].as_str().unwrap(),
            want["output"][1].as_str().unwrap(),
        );
        let region = evidence.provenance.region.as_deref().unwrap();
        let scope = JobScope {
            partition: partition_of_region(region),
            account: evidence.provenance.account.as_deref(),
            output: Some((bucket, folder)),
            job: Some(TimeWindow {
                from: time(&want["job_window"][0]),
                until: time(&want["job_window"][1]),
            }),
            captured_at: evidence.provenance.captured_at,
        };
        let r = possible_readers(Some(key), evidence.buckets.get(bucket), &scope);
        let possible = &want["possible_readers"];
        assert_eq!(
            principals(r.decrypt.as_ref().unwrap()),
            strings(&possible["kms:Decrypt"]),
            "{name}"
        );
        assert_eq!(
            principals(r.get_object.as_ref().unwrap()),
            strings(&possible["s3:GetObject"]),
            "{name}"
        );
        let flags: Vec<&str> = r.flags.iter().map(Flag::kind).collect();
        assert_eq!(flags, strings(&want["flags"]), "{name}: {:#?}", r.flags);
    }
}

#[test]
fn each_fixtures_allow_list_allows_its_readers_but_the_third_principal() {
    for dir in fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let want = read_side(&dir);
        let list = AllowList::load(&dir.join(want["allowed_readers"].as_str().unwrap()))
            .unwrap_or_else(|e| panic!("{e}"));
        let not_allowed = strings(&want["not_allowed"]);
        let (bucket, folder) = (
            want["output"][0].as_str().unwrap(),
            format!("{}1", want["output"][1].as_str().unwrap()),
        );
        let scope = ReadScope {
            bucket: Some(bucket),
            key: Some(&folder),
            job_tag: None,
        };
        for reader in strings(&want["readers"]) {
            let arn = PrincipalArn::parse(&reader).unwrap();
            let allowed = list
                .entries
                .iter()
                .any(|e| e.covers(&scope) && e.allows(&arn, ReadOperation::GetObject));
            assert_eq!(allowed, !not_allowed.contains(&reader), "{name}: {reader}");
        }
    }
}
