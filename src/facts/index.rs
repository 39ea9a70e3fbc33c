//! Facts filed once by what correlation looks them up by.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::decode::{Context, Fact, decode};
use crate::model::{
    Conflict, ConflictAbout, Evidence, JobId, ObjectHead, PrefixListing, TrailEvent,
    is_key_state_change,
};
use crate::timeline::keys;

/// Every record's fact, and the lookups the timeline needs. Built in one pass over the
/// records (`O(records)`); each lookup costs what it returns.
pub struct Index<'a> {
    pub evidence: &'a Evidence,
    /// `facts[i]` is what `evidence.events[i]` says.
    facts: Vec<Fact>,
    starts: HashMap<JobId, Vec<usize>>,
    gets: HashMap<JobId, Vec<usize>>,
    /// S3 object-level calls by `(bucket, key)`, ordered so a folder is a range.
    objects: BTreeMap<(String, String), Vec<usize>>,
    /// `CopyObject` calls by the `(bucket, key)` of their source, ordered as `objects`.
    copy_sources: BTreeMap<(String, String), Vec<usize>>,
    /// KMS calls by the `aws:s3:arn` of their context: `(bucket, Some(key))` for an object,
    /// `(bucket, None)` for a bucket (Bucket Keys).
    s3_contexts: HashMap<(String, Option<String>), Vec<usize>>,
    /// KMS calls by each exact value of a non-S3 encryption context.
    context_values: HashMap<String, Vec<usize>>,
    /// Key-state changes (DisableKey, ScheduleKeyDeletion, ...) by the key ARN they name,
    /// resolved in the caller's account and Region: only these, so a job's lookup costs the
    /// changes of its key, not every use of a key that thousands of jobs share.
    key_changes: HashMap<String, Vec<usize>>,
    heads: BTreeMap<(String, String), Vec<usize>>,
    statuses: HashMap<JobId, Vec<usize>>,
    /// A folder segment -> `(bucket, prefix before it)`, from every object key seen.
    folders: HashMap<String, Vec<(String, String)>>,
    conflicts: HashMap<ConflictAbout, Vec<usize>>,
    /// Listings by `(bucket, prefix)`, and the prefix lengths listed in each bucket.
    listings: HashMap<(String, String), usize>,
    listing_lengths: HashMap<String, BTreeSet<usize>>,
}

impl<'a> Index<'a> {
    pub fn new(evidence: &'a Evidence) -> Index<'a> {
        let mut ix = Index {
            evidence,
            facts: Vec::with_capacity(evidence.events.len()),
            starts: HashMap::new(),
            gets: HashMap::new(),
            objects: BTreeMap::new(),
            copy_sources: BTreeMap::new(),
            s3_contexts: HashMap::new(),
            context_values: HashMap::new(),
            key_changes: HashMap::new(),
            heads: BTreeMap::new(),
            statuses: HashMap::new(),
            folders: HashMap::new(),
            conflicts: HashMap::new(),
            listings: HashMap::new(),
            listing_lengths: HashMap::new(),
        };
        for (i, e) in evidence.events.iter().enumerate() {
            let fact = decode(e);
            match &fact {
                Fact::Start(s) => ix.starts.entry(s.job.clone()).or_default().push(i),
                Fact::TextractGet { job } => ix.gets.entry(job.clone()).or_default().push(i),
                Fact::S3(a) => {
                    for k in &a.keys {
                        add_folders(&mut ix.folders, &a.bucket, k);
                        ix.objects
                            .entry((a.bucket.clone(), k.clone()))
                            .or_default()
                            .push(i);
                    }
                    if let Some(source) = &a.copy_source {
                        ix.copy_sources.entry(source.clone()).or_default().push(i);
                    }
                }
                Fact::Kms(k) => {
                    match &k.context {
                        Context::S3 { bucket, key, .. } => ix
                            .s3_contexts
                            .entry((bucket.clone(), key.clone()))
                            .or_default()
                            .push(i),
                        Context::Other(members) => {
                            for v in members.values() {
                                ix.context_values.entry(v.clone()).or_default().push(i);
                            }
                        }
                        Context::None | Context::Unrecognised(_) => {}
                    }
                    let change = is_key_state_change(&e.event_source, &k.operation);
                    if let Some(arn) = k
                        .key_id
                        .as_deref()
                        .filter(|_| change)
                        .and_then(|id| event_key(evidence, e, id))
                    {
                        ix.key_changes.entry(arn).or_default().push(i);
                    }
                }
                Fact::Other | Fact::Unreadable { .. } => {}
            }
            ix.facts.push(fact);
        }
        for (i, h) in evidence.heads.iter().enumerate() {
            add_folders(&mut ix.folders, &h.object.bucket, &h.object.key);
            ix.heads
                .entry((h.object.bucket.clone(), h.object.key.clone()))
                .or_default()
                .push(i);
        }
        for (i, l) in evidence.listings.iter().enumerate() {
            add_folders(&mut ix.folders, &l.bucket, &l.prefix);
            ix.listings.insert((l.bucket.clone(), l.prefix.clone()), i);
            ix.listing_lengths
                .entry(l.bucket.clone())
                .or_default()
                .insert(l.prefix.len());
        }
        for (i, s) in evidence.job_statuses.iter().enumerate() {
            ix.statuses.entry(s.job_id.clone()).or_default().push(i);
        }
        for (i, c) in evidence.conflicts.iter().enumerate() {
            ix.conflicts.entry(c.about.clone()).or_default().push(i);
        }
        ix
    }

    pub fn fact(&self, i: usize) -> &Fact {
        &self.facts[i]
    }

    pub fn event(&self, i: usize) -> &'a TrailEvent {
        &self.evidence.events[i]
    }

    /// Every fact with its record, in record order.
    pub fn all(&self) -> impl Iterator<Item = (&'a TrailEvent, &Fact)> {
        self.evidence.events.iter().zip(&self.facts)
    }

    fn list<'s, K: std::hash::Hash + Eq>(map: &'s HashMap<K, Vec<usize>>, k: &K) -> &'s [usize] {
        map.get(k).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The `Start*` records that returned this job id, in record (time) order.
    pub fn starts(&self, job: &JobId) -> &[usize] {
        Self::list(&self.starts, job)
    }

    pub fn gets(&self, job: &JobId) -> &[usize] {
        Self::list(&self.gets, job)
    }

    pub fn statuses(&self, job: &JobId) -> impl Iterator<Item = &'a crate::model::JobStatus> {
        Self::list(&self.statuses, job)
            .iter()
            .map(|&i| &self.evidence.job_statuses[i])
    }

    /// S3 calls naming exactly this object.
    pub fn object(&self, bucket: &str, key: &str) -> &[usize] {
        self.objects
            .get(&(bucket.to_owned(), key.to_owned()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// `(key, S3 calls)` for every object under `prefix` in `bucket`.
    pub fn folder<'s>(
        &'s self,
        bucket: &'s str,
        prefix: &'s str,
    ) -> impl Iterator<Item = (&'s str, &'s [usize])> + 's {
        under(&self.objects, bucket, prefix)
    }

    /// `(source key, CopyObject calls)` for every object under `prefix` in `bucket` copied
    /// elsewhere.
    pub fn copied_from<'s>(
        &'s self,
        bucket: &'s str,
        prefix: &'s str,
    ) -> impl Iterator<Item = (&'s str, &'s [usize])> + 's {
        under(&self.copy_sources, bucket, prefix)
    }

    /// KMS calls whose `aws:s3:arn` context is exactly this object (`Some(key)`) or bucket.
    pub fn s3_context(&self, bucket: &str, key: Option<&str>) -> &[usize] {
        Self::list(
            &self.s3_contexts,
            &(bucket.to_owned(), key.map(str::to_owned)),
        )
    }

    /// KMS calls with a non-S3 context member exactly equal to `value`.
    pub fn context_value(&self, value: &str) -> &[usize] {
        self.context_values
            .get(value)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Key-state changes naming this key ARN.
    pub fn key_changes(&self, arn: &str) -> &[usize] {
        self.key_changes.get(arn).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn heads(&self, bucket: &str, key: &str) -> impl Iterator<Item = &'a ObjectHead> {
        self.heads
            .get(&(bucket.to_owned(), key.to_owned()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|&i| &self.evidence.heads[i])
    }

    /// Heads of objects under `prefix`.
    pub fn heads_under<'s>(
        &'s self,
        bucket: &'s str,
        prefix: &'s str,
    ) -> impl Iterator<Item = &'a ObjectHead> + 's {
        self.heads
            .range((bucket.to_owned(), prefix.to_owned())..)
            .take_while(move |((b, k), _)| b == bucket && k.starts_with(prefix))
            .flat_map(|(_, v)| v.iter().map(|&i| &self.evidence.heads[i]))
    }

    /// The listing that covers `prefix` in `bucket`: of that prefix, or else of the longest
    /// listed prefix of it.
    pub fn listing_for(&self, bucket: &str, prefix: &str) -> Option<&'a PrefixListing> {
        let lengths = self.listing_lengths.get(bucket)?;
        lengths
            .range(..=prefix.len())
            .rev()
            .filter(|&&n| prefix.is_char_boundary(n))
            .find_map(|&n| {
                self.listings
                    .get(&(bucket.to_owned(), prefix[..n].to_owned()))
            })
            .map(|&i| &self.evidence.listings[i])
    }

    /// The conflicts in the evidence about this.
    pub fn conflicts(&self, about: &ConflictAbout) -> impl Iterator<Item = &'a Conflict> {
        Self::list(&self.conflicts, about)
            .iter()
            .map(|&i| &self.evidence.conflicts[i])
    }

    /// Where an object key holds `{job}/`: `(bucket, prefix before it)`, first seen first.
    pub fn folders_of(&self, job: &JobId) -> &[(String, String)] {
        self.folders.get(&job.0).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// `(key, records)` of the keys under `prefix` in `bucket`: a range of the ordered map.
fn under<'s>(
    map: &'s BTreeMap<(String, String), Vec<usize>>,
    bucket: &'s str,
    prefix: &'s str,
) -> impl Iterator<Item = (&'s str, &'s [usize])> + 's {
    map.range((bucket.to_owned(), prefix.to_owned())..)
        .take_while(move |((b, k), _)| b == bucket && k.starts_with(prefix))
        .map(|((_, k), v)| (k.as_str(), v.as_slice()))
}

/// The key ARN a KMS call names, resolved in the caller's own account and Region.
fn event_key(evidence: &Evidence, e: &TrailEvent, id: &str) -> Option<String> {
    let account = e
        .recipient_account_id
        .clone()
        .or_else(|| crate::model::str_ci(&e.user_identity, "accountId").map(str::to_owned));
    keys::resolve(evidence, id, Some(&e.aws_region), account.as_deref())
        .arn
        .ok()
}

fn add_folders(folders: &mut HashMap<String, Vec<(String, String)>>, bucket: &str, key: &str) {
    let mut at = 0;
    for seg in key.split('/') {
        let end = at + seg.len();
        if end < key.len() && !seg.is_empty() {
            let place = (bucket.to_owned(), key[..at].to_owned());
            let list = folders.entry(seg.to_owned()).or_default();
            // Repeats are dropped when they follow each other (the same folder's objects
            // come together); any left only repeat an answer, never change it.
            if list.last() != Some(&place) {
                list.push(place);
            }
        }
        at = end + 1;
    }
}
