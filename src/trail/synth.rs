//! Synthetic trail log files for the scanner's tests and benchmark (not evidence).
//!
//! Writes a corpus in CloudTrail's delivery layout with a realistic event mix (70% S3 data
//! events, 15% KMS, 5% Textract, 10% other management events, about 1.8 KB per record)
//! and a few target jobs hidden in it: their `Start*` event, `Get*` polls, result
//! `PutObject`s under `textract_output/{JobId}/` and the KMS calls S3 made for them.
//! Text is escaped the way CloudTrail does (`&`, `=`, `<`, `>`, `'` and non-ASCII as
//! `\u....`), so prefilters meet the escapes they must see through.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// What to write.
#[derive(Debug, Clone)]
pub struct CorpusSpec {
    /// Uncompressed bytes to write (at least one file is written).
    pub target_bytes: u64,
    pub seed: u64,
    /// Uncompressed size of one log file.
    pub file_bytes: usize,
    /// Number of target jobs to hide.
    pub jobs: usize,
    /// Delivery time of the first file; files follow every five minutes per region.
    pub start: DateTime<Utc>,
}

impl Default for CorpusSpec {
    fn default() -> Self {
        CorpusSpec {
            target_bytes: 64 << 20,
            seed: 1,
            file_bytes: 2_300_000,
            jobs: 3,
            start: DateTime::from_timestamp(1_795_161_600, 0).unwrap_or_default(), // 2026-11-20T08:00Z
        }
    }
}

/// The shape of the correlation benchmark (issue 9): `jobs` complete jobs spread over one
/// day, each a `Start*`, `pages` result writes with S3's `GenerateDataKey` for each, and a
/// `Get*` poll, hidden among `noise` unrelated records per job record, in one Region's
/// five-minute log files.
#[derive(Debug, Clone)]
pub struct JobsSpec {
    pub jobs: usize,
    pub pages: usize,
    pub noise: usize,
    pub seed: u64,
    /// The day's first instant.
    pub day: DateTime<Utc>,
}

impl Default for JobsSpec {
    fn default() -> Self {
        JobsSpec {
            jobs: 1000,
            pages: 4,
            noise: 20,
            seed: 1,
            day: DateTime::from_timestamp(1_795_132_800, 0).unwrap_or_default(), // 2026-11-20T00:00Z
        }
    }
}

/// A job hidden in the corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetJob {
    pub job_id: String,
    pub bucket: String,
    pub kms_key: String,
    /// When its `Start*` call happened.
    pub started: DateTime<Utc>,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    pub files: Vec<PathBuf>,
    pub targets: Vec<TargetJob>,
    pub bytes_uncompressed: u64,
    pub bytes_compressed: u64,
    pub records: u64,
}

const ACCOUNT: &str = "111122223333";
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const OUTPUT_BUCKET: &str = "acme-textract-results";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// SplitMix64: small, seedable, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
    fn alnum(&mut self, len: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| char::from(A[self.below(A.len() as u64) as usize]))
            .collect()
    }
    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

/// One file's plan: where it goes, when it was delivered, which targets' events it holds.
struct FilePlan {
    path: PathBuf,
    region: &'static str,
    delivered: DateTime<Utc>,
    seed: u64,
    targets: Vec<TargetJob>,
}

impl FilePlan {
    /// A log file delivered at `delivered`, named as CloudTrail names it.
    fn new(dir: &Path, region: &'static str, delivered: DateTime<Utc>, rng: &mut Rng) -> Self {
        let path = dir.join(format!(
            "AWSLogs/{ACCOUNT}/CloudTrail/{region}/{}/{ACCOUNT}_CloudTrail_{region}_{}_{}.json.gz",
            delivered.format("%Y/%m/%d"),
            delivered.format("%Y%m%dT%H%MZ"),
            rng.alnum(16)
        ));
        FilePlan {
            path,
            region,
            delivered,
            seed: rng.next(),
            targets: Vec::new(),
        }
    }
}

/// How much noise a file gets around its targets' records.
enum Fill {
    /// Noise until the file has this many uncompressed bytes (targets 1 in 40 records).
    Bytes(usize),
    /// This many noise records per target record.
    NoisePerRecord(usize),
}

/// The objects a target job writes, and whether a Bucket Key data key is logged too.
struct JobShape {
    objects: Vec<String>,
    bucket_key: bool,
}

/// Writes the files of `plans` on every core; returns the corpus totals.
fn write_files(plans: Vec<FilePlan>, fill: &Fill, shape: &JobShape) -> std::io::Result<Corpus> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::io::Result<(u64, u64, u64)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut totals = (0, 0, 0);
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(plan) = plans.get(i) else {
                            return Ok(totals);
                        };
                        let (u, c, r) = write_file(plan, fill, shape)?;
                        totals = (totals.0 + u, totals.1 + c, totals.2 + r);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut corpus = Corpus {
        targets: plans.iter().flat_map(|p| p.targets.clone()).collect(),
        files: plans.into_iter().map(|p| p.path).collect(),
        ..Corpus::default()
    };
    for r in results {
        let (u, c, n) = r?;
        corpus.bytes_uncompressed += u;
        corpus.bytes_compressed += c;
        corpus.records += n;
    }
    Ok(corpus)
}

/// Writes the correlation benchmark's corpus (see [`JobsSpec`]) under `dir`, in
/// `AWSLogs/{account}/CloudTrail/us-east-1/YYYY/MM/DD/`, one file per five minutes, using
/// every core. Each job's records are in the file of the five minutes it started in.
pub fn write_jobs_corpus(dir: &Path, spec: &JobsSpec) -> std::io::Result<Corpus> {
    const FILES: usize = 24 * 12;
    let mut rng = Rng(spec.seed);
    let region = REGIONS[0];
    let mut plans: Vec<FilePlan> = (0..FILES)
        .map(|i| {
            let delivered = spec.day + Duration::minutes(5 * (i as i64 + 1));
            FilePlan::new(dir, region, delivered, &mut rng)
        })
        .collect();
    for k in 0..spec.jobs {
        let plan = &mut plans[k * FILES / spec.jobs.max(1)];
        let started =
            plan.delivered - Duration::minutes(5) + Duration::seconds(rng.below(120) as i64);
        plan.targets.push(TargetJob {
            job_id: rng.hex(64),
            bucket: OUTPUT_BUCKET.into(),
            kms_key: KEY_ARN.into(),
            started,
        });
    }
    let shape = JobShape {
        objects: (1..=spec.pages).map(|p| p.to_string()).collect(),
        bucket_key: false,
    };
    let mut corpus = write_files(plans, &Fill::NoisePerRecord(spec.noise), &shape)?;
    corpus
        .targets
        .sort_by(|a, b| (a.started, &a.job_id).cmp(&(b.started, &b.job_id)));
    Ok(corpus)
}

/// Writes the corpus under `dir` (in `AWSLogs/{account}/CloudTrail/{region}/YYYY/MM/DD/`),
/// using every core.
pub fn write_corpus(dir: &Path, spec: &CorpusSpec) -> std::io::Result<Corpus> {
    let n_files = spec.target_bytes.div_ceil(spec.file_bytes as u64).max(1) as usize;
    let mut rng = Rng(spec.seed);
    let mut plans: Vec<FilePlan> = (0..n_files)
        .map(|i| {
            let region = REGIONS[i % REGIONS.len()];
            let delivered = spec.start + Duration::minutes(5 * (i / REGIONS.len()) as i64);
            FilePlan::new(dir, region, delivered, &mut rng)
        })
        .collect();
    let mut targets = Vec::new();
    for k in 0..spec.jobs {
        let at = (k + 1) * n_files / (spec.jobs + 1);
        let target = TargetJob {
            job_id: rng.hex(64),
            bucket: OUTPUT_BUCKET.into(),
            kms_key: KEY_ARN.into(),
            started: plans[at].delivered - Duration::minutes(10),
        };
        plans[at].targets.push(target.clone());
        targets.push(target);
    }

    let shape = JobShape {
        objects: [".s3_access_check", "1", "2"].map(String::from).to_vec(),
        bucket_key: true,
    };
    let mut corpus = write_files(plans, &Fill::Bytes(spec.file_bytes), &shape)?;
    corpus.targets = targets;
    Ok(corpus)
}

/// Writes one gzip log file; returns (uncompressed, compressed, records).
fn write_file(plan: &FilePlan, fill: &Fill, shape: &JobShape) -> std::io::Result<(u64, u64, u64)> {
    let mut rng = Rng(plan.seed);
    let mut records: Vec<Value> = Vec::new();
    for t in &plan.targets {
        records.extend(target_events(&mut rng, t, plan.region, shape));
    }
    let (odds, mut noise_left) = match fill {
        Fill::Bytes(_) => (40, usize::MAX),
        Fill::NoisePerRecord(n) => (*n as u64 + 1, n * records.len()),
    };
    let mut json = b"{\"Records\":[".to_vec();
    let mut count = 0u64;
    let mut targets = records.into_iter();
    while match fill {
        Fill::Bytes(file_bytes) => json.len() < *file_bytes,
        Fill::NoisePerRecord(_) => noise_left > 0,
    } {
        // Target events are spread through the file, not bunched at its start.
        let record = match rng.below(odds) {
            0 => targets.next(),
            _ => None,
        }
        .unwrap_or_else(|| {
            noise_left -= 1;
            noise_event(&mut rng, plan)
        });
        if count > 0 {
            json.push(b',');
        }
        push_escaped(&mut json, &record);
        count += 1;
    }
    for record in targets {
        if count > 0 {
            json.push(b',');
        }
        push_escaped(&mut json, &record);
        count += 1;
    }
    json.extend_from_slice(b"]}");

    std::fs::create_dir_all(plan.path.parent().unwrap_or(Path::new(".")))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json)?;
    let gz = gz.finish()?;
    std::fs::write(&plan.path, &gz)?;
    Ok((json.len() as u64, gz.len() as u64, count))
}

/// Serializes compactly and escapes as CloudTrail does (HTML-safe characters and
/// non-ASCII as `\u....`), which is valid because these characters only occur in strings.
fn push_escaped(out: &mut Vec<u8>, record: &Value) {
    let text = record.to_string();
    for c in text.chars() {
        match c {
            '&' | '=' | '<' | '>' | '\'' => out.extend(format!("\\u{:04x}", c as u32).bytes()),
            c if !c.is_ascii() => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.extend(format!("\\u{:04x}", u).bytes());
                }
            }
            c => out.push(c as u8),
        }
    }
}

fn identity(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0..=5 => {
            let role = rng.pick(&["app-backend", "etl-runner", "ci-deployer", "data-science"]);
            json!({
                "type": "AssumedRole",
                "principalId": format!("AROA{}:{}", rng.alnum(17).to_uppercase(), rng.alnum(10)),
                "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/session-{}", rng.alnum(8)),
                "accountId": ACCOUNT,
                "accessKeyId": format!("ASIA{}", rng.alnum(16).to_uppercase()),
                "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": format!("AROA{}", rng.alnum(17).to_uppercase()),
                        "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"), "accountId": ACCOUNT, "userName": role},
                    "attributes": {"creationDate": "2026-11-20T07:12:44Z", "mfaAuthenticated": "false"}
                }
            })
        }
        6 | 7 => json!({
            "type": "IAMUser",
            "principalId": format!("AIDA{}", rng.alnum(17).to_uppercase()),
            "arn": format!("arn:aws:iam::{ACCOUNT}:user/{}", rng.pick(&["alice", "bob", "jörg", "svc-import"])),
            "accountId": ACCOUNT,
            "accessKeyId": format!("AKIA{}", rng.alnum(16).to_uppercase()),
            "userName": "alice"
        }),
        _ => {
            json!({"type": "AWSService", "invokedBy": rng.pick(&["s3.amazonaws.com", "textract.amazonaws.com", "lambda.amazonaws.com"])})
        }
    }
}

fn base(rng: &mut Rng, region: &str, time: DateTime<Utc>, source: &str, name: &str) -> Value {
    json!({
        "eventVersion": "1.10",
        "userIdentity": identity(rng),
        "eventTime": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": format!("198.51.100.{}", rng.below(255)),
        "userAgent": rng.pick(&["aws-sdk-java/2.25.1 Linux/6.1 OpenJDK_64-Bit_Server_VM/17.0.9 Java/17.0.9 vendor/Amazon.com_Inc. md/internal exec-env/AWS_Lambda_java17 io/sync http/Apache cfg/retry-mode#standard",
            "Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.12.1 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.11",
            "[aws-cli/2.15.10 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2023 prompt/off command/s3.cp]",
            "s3.amazonaws.com", "AWS Internal"]),
        "requestID": rng.alnum(16).to_uppercase(),
        "eventID": rng.uuid(),
        "readOnly": rng.below(2) == 0,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": format!("{}.{region}.amazonaws.com", source.trim_end_matches(".amazonaws.com"))}
    })
}

fn set(v: &mut Value, key: &str, value: Value) {
    if v.is_null() {
        *v = json!({});
    }
    if let Some(map) = v.as_object_mut() {
        map.insert(key.into(), value);
    }
}

fn s3_event(
    rng: &mut Rng,
    region: &str,
    time: DateTime<Utc>,
    name: &str,
    bucket: &str,
    key: &str,
    sse: Option<&str>,
) -> Value {
    let mut e = base(rng, region, time, "s3.amazonaws.com", name);
    let mut req = json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{region}.amazonaws.com"), "key": key, "x-id": name});
    let mut additional = json!({
        "SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": if name == "PutObject" { rng.below(5_000_000) } else { 0 },
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": format!("{}=", rng.alnum(75)),
        "bytesTransferredOut": if name == "GetObject" { rng.below(5_000_000) } else { 0 }
    });
    let mut resp = Value::Null;
    if name == "CreateMultipartUpload" {
        set(&mut req, "uploads", json!(""));
        resp = json!({"uploadId": rng.alnum(96)});
    }
    if let Some(sse) = sse {
        let applied = rng.pick(&["SSE_KMS", "Default_SSE_KMS"]);
        set(
            &mut additional,
            "SSEApplied",
            json!(if sse == "AES256" {
                "Default_SSE_S3"
            } else {
                applied
            }),
        );
        set(&mut resp, "x-amz-server-side-encryption", json!(sse));
        set(&mut resp, "x-amz-version-id", json!(rng.alnum(32)));
        if sse == "aws:kms" {
            set(&mut req, "x-amz-server-side-encryption", json!(sse));
            set(
                &mut req,
                "x-amz-server-side-encryption-aws-kms-key-id",
                json!(KEY_ARN),
            );
            set(
                &mut resp,
                "x-amz-server-side-encryption-aws-kms-key-id",
                json!(KEY_ARN),
            );
        }
    }
    set(&mut e, "requestParameters", req);
    set(&mut e, "responseElements", resp);
    set(&mut e, "additionalEventData", additional);
    set(
        &mut e,
        "resources",
        json!([
            {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}
        ]),
    );
    set(&mut e, "managementEvent", json!(false));
    set(&mut e, "eventCategory", json!("Data"));
    if rng.below(3) == 0 {
        set(
            &mut e,
            "vpcEndpointId",
            json!(format!("vpce-{}", rng.hex(17))),
        );
        set(&mut e, "vpcEndpointAccountId", json!(ACCOUNT));
    }
    e
}

fn kms_event(
    rng: &mut Rng,
    region: &str,
    time: DateTime<Utc>,
    name: &str,
    context_arn: &str,
) -> Value {
    let mut e = base(rng, region, time, "kms.amazonaws.com", name);
    set(
        &mut e,
        "userIdentity",
        json!({"type": "AWSService", "invokedBy": "s3.amazonaws.com"}),
    );
    set(&mut e, "sourceIPAddress", json!("s3.amazonaws.com"));
    let mut req = json!({"encryptionContext": {"aws:s3:arn": context_arn}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"});
    if name == "GenerateDataKey" {
        set(&mut req, "keyId", json!(KEY_ARN));
        set(&mut req, "keySpec", json!("AES_256"));
    }
    set(&mut e, "requestParameters", req);
    set(
        &mut e,
        "resources",
        json!([{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": KEY_ARN}]),
    );
    set(&mut e, "sharedEventID", json!(rng.uuid()));
    e
}

fn noise_event(rng: &mut Rng, plan: &FilePlan) -> Value {
    let time = plan.delivered - Duration::seconds(60 + rng.below(13 * 60) as i64);
    let region = plan.region;
    let bucket = rng.pick(&[
        "acme-data-lake",
        "acme-web-assets",
        "acme-logs-archive",
        "acme-ml-features",
        "acme-backups",
    ]);
    let key = format!(
        "{}/{}/dt=2026-11-20/{}-{}-{}.{}",
        rng.pick(&["raw", "curated", "tmp", "rapports/été", "images/2026"]),
        rng.below(1000),
        rng.pick(&["part", "invoice", "résumé", "frame", "batch"]),
        rng.alnum(12),
        rng.uuid(),
        rng.pick(&["parquet", "json", "pdf", "png", "csv.gz"])
    );
    let mut e = match rng.below(100) {
        0..=69 => {
            let name = rng.pick(&[
                "GetObject",
                "GetObject",
                "PutObject",
                "HeadObject",
                "CopyObject",
                "CreateMultipartUpload",
            ]);
            let sse = rng.pick(&["AES256", "aws:kms", "none"]);
            s3_event(
                rng,
                region,
                time,
                name,
                bucket,
                &key,
                (sse != "none").then_some(sse),
            )
        }
        70..=84 => {
            let name = rng.pick(&["GenerateDataKey", "Decrypt", "Decrypt"]);
            kms_event(
                rng,
                region,
                time,
                name,
                &format!("arn:aws:s3:::{bucket}/{key}"),
            )
        }
        85..=89 => {
            let name = rng.pick(&[
                "GetDocumentAnalysis",
                "GetDocumentTextDetection",
                "DetectDocumentText",
            ]);
            let mut e = base(rng, region, time, "textract.amazonaws.com", name);
            set(
                &mut e,
                "requestParameters",
                json!({"jobId": rng.hex(64), "maxResults": 1000}),
            );
            set(&mut e, "responseElements", Value::Null);
            e
        }
        _ => {
            let (source, name) = match rng.below(4) {
                0 => ("sts.amazonaws.com", "AssumeRole"),
                1 => ("ec2.amazonaws.com", "DescribeInstances"),
                2 => ("iam.amazonaws.com", "PutRolePolicy"),
                _ => ("lambda.amazonaws.com", "Invoke"),
            };
            let mut e = base(rng, region, time, source, name);
            set(
                &mut e,
                "requestParameters",
                json!({
                    "roleName": "etl-runner",
                    "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::acme-data-lake/*\"}]}"
                }),
            );
            e
        }
    };
    if rng.below(50) == 0 {
        set(&mut e, "errorCode", json!("AccessDenied"));
        set(
            &mut e,
            "errorMessage",
            json!("User is not authorized to perform this action"),
        );
    }
    e
}

/// The Start caller of every target job (a pipeline role session).
fn caller() -> Value {
    json!({
        "type": "AssumedRole",
        "principalId": "AROARZ5LWNOQ3EXAMPLE:etl-worker",
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/DocPipeline/etl-worker"),
        "accountId": ACCOUNT,
        "accessKeyId": "ASIARZ5LWNOQ7EXAMPLE",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": "AROARZ5LWNOQ3EXAMPLE",
                "arn": format!("arn:aws:iam::{ACCOUNT}:role/DocPipeline"), "accountId": ACCOUNT, "userName": "DocPipeline"},
            "attributes": {"creationDate": "2026-11-20T00:00:00Z", "mfaAuthenticated": "false"}
        }
    })
}

/// The Start caller's identity as a service acting for it (`invokedBy`).
fn caller_via(service: &str) -> Value {
    let mut id = caller();
    set(&mut id, "invokedBy", json!(service));
    id
}

fn target_events(rng: &mut Rng, t: &TargetJob, region: &str, shape: &JobShape) -> Vec<Value> {
    let at = |secs: i64| t.started + Duration::seconds(secs);
    let mut start = base(
        rng,
        region,
        at(0),
        "textract.amazonaws.com",
        "StartDocumentAnalysis",
    );
    set(&mut start, "userIdentity", caller());
    set(
        &mut start,
        "requestParameters",
        json!({
            "documentLocation": {"s3Object": {"bucket": "acme-inbox", "name": "contracts/Vertrag-Müller.pdf"}},
            "featureTypes": ["TABLES", "FORMS"],
            "outputConfig": {"s3Bucket": t.bucket, "s3Prefix": "textract_output"},
            "kMSKeyId": t.kms_key
        }),
    );
    set(&mut start, "responseElements", json!({"jobId": t.job_id}));
    let prefix = format!("textract_output/{}", t.job_id);
    let mut events = vec![start];
    // Writes 20 s apart, squeezed into 80 s for long jobs.
    let spread = shape.objects.len().max(4) as i64;
    for (i, object) in shape.objects.iter().enumerate() {
        let key = format!("{prefix}/{object}");
        let secs = 5 + 80 * i as i64 / spread;
        let mut put = s3_event(
            rng,
            region,
            at(secs),
            "PutObject",
            &t.bucket,
            &key,
            Some("aws:kms"),
        );
        set(
            &mut put,
            "userIdentity",
            caller_via("textract.amazonaws.com"),
        );
        set(&mut put, "sourceIPAddress", json!("textract.amazonaws.com"));
        set(&mut put, "userAgent", json!("textract.amazonaws.com"));
        events.push(put);
        let mut gdk = kms_event(
            rng,
            region,
            at(secs),
            "GenerateDataKey",
            &format!("arn:aws:s3:::{}/{key}", t.bucket),
        );
        set(&mut gdk, "userIdentity", caller_via("s3.amazonaws.com"));
        events.push(gdk);
    }
    if shape.bucket_key {
        // A Bucket Key data key, whose context is the bucket alone.
        events.push(kms_event(
            rng,
            region,
            at(6),
            "GenerateDataKey",
            &format!("arn:aws:s3:::{}", t.bucket),
        ));
    }
    let mut poll = base(
        rng,
        region,
        at(10 + 80 * shape.objects.len() as i64 / spread),
        "textract.amazonaws.com",
        "GetDocumentAnalysis",
    );
    set(&mut poll, "userIdentity", caller());
    set(&mut poll, "requestParameters", json!({"jobId": t.job_id}));
    events.push(poll);
    events
}
