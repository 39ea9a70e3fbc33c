//! `submit` end to end against the local AWS lab (`tests/lab/`): preflight, `Start*` through
//! the AWS SDK, waiting, and the verification `verify --job-id` would give.
//!
//! Like `tests/lab.rs` they need a running lab named by `TEXTRACT_AUDIT_LAB_ENDPOINT` and are
//! skipped with a message without one (the usage test needs no lab). By hand:
//!
//! ```sh
//! endpoint=$(LAB_PYTHON=.venv/bin/python tests/lab/start.sh .lab)
//! TEXTRACT_AUDIT_LAB_ENDPOINT=$endpoint cargo test --test submit
//! tests/lab/stop.sh .lab
//! ```
//!
//! Live evidence has no S3 data events (they exist only in trail log files), so a job that
//! wrote to a bucket is INCONCLUSIVE for exactly the checks that need them unless the test
//! hands the trail's delivered log files over with `--trail-dir`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};

const ENV: &str = "TEXTRACT_AUDIT_LAB_ENDPOINT";
static LAB_LOCK: Mutex<()> = Mutex::new(());

/// Without S3 data events these are the checks that cannot conclude for a bucket job:
/// the writes themselves, and who wrote (integrity).
const NEED_DATA_EVENTS: [&str; 2] = ["evidence-data-events", "output-integrity"];

fn lab() -> Option<Lab> {
    let Ok(endpoint) = std::env::var(ENV) else {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: no AWS lab; start one with `endpoint=$(tests/lab/start.sh .lab)` and run \
             `{ENV}=$endpoint cargo test --test submit`"
        );
        return None;
    };
    let guard = LAB_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    Some(Lab {
        endpoint: endpoint.trim_end_matches('/').to_owned(),
        _turn: guard,
    })
}

struct Lab {
    endpoint: String,
    _turn: MutexGuard<'static, ()>,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn report(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    /// The job ids of the `started job …` lines, in order.
    fn started(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter_map(|l| l.strip_prefix("started job "))
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect()
    }
}

/// `(status, headers, body)` of one HTTP/1.1 exchange (the lab answers with Content-Length).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("the lab accepts connections");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, raw[split + 4..].to_vec())
}

/// A SigV4-shaped header the lab accepts (it does not check signatures).
fn auth(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

fn json_of(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    match (text.find('{'), text.rfind('}')) {
        (Some(a), Some(b)) => serde_json::from_str(&text[a..=b]).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

impl Lab {
    fn addr(&self) -> &str {
        self.endpoint
            .strip_prefix("http://")
            .expect("an http:// endpoint")
    }

    fn control(&self, name: &str, body: &Value) -> Value {
        let (status, reply) = http(
            self.addr(),
            "POST",
            &format!("/_lab/{name}"),
            &[],
            body.to_string().as_bytes(),
        );
        assert_eq!(
            status,
            200,
            "/_lab/{name}: {}",
            String::from_utf8_lossy(&reply)
        );
        json_of(&reply)
    }

    /// Resets the lab and creates `scenario` without running its job.
    fn seed(&self, scenario: &str, faults: &Value) -> Value {
        let seed = self.control("seed", &json!({"scenario": scenario, "run_job": false}));
        if faults.as_object().is_some_and(|f| !f.is_empty()) {
            self.control("faults", faults);
        }
        seed
    }

    /// An AWS JSON-protocol call made by the test itself.
    fn aws_json(&self, service: &str, target: &str, body: &Value) -> Value {
        let auth = auth(service);
        let (status, reply) = http(
            self.addr(),
            "POST",
            "/",
            &[
                ("X-Amz-Target", target),
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Authorization", &auth),
            ],
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{target}: {}", String::from_utf8_lossy(&reply));
        json_of(&reply)
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_textract-audit"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/textract-audit-lab-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/textract-audit-lab-credentials",
            )
            .output()
            .expect("the binary runs");
        Run {
            code: out.status.code().expect("exited"),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `submit` with the seeded scenario's document and output settings, JSON report.
    fn submit(&self, seed: &Value, extra: &[&str]) -> Run {
        let params = &seed["job"]["params"];
        let document = format!(
            "s3://{}/{}",
            seed["input"]["bucket"].as_str().unwrap(),
            seed["input"]["key"].as_str().unwrap()
        );
        let mut args: Vec<String> = [
            "submit",
            "--region",
            "us-east-1",
            "--endpoint-url",
            &self.endpoint,
            "--document",
            &document,
            "--format",
            "json",
        ]
        .map(String::from)
        .to_vec();
        if seed["job"]["api"] == "StartDocumentTextDetection" {
            args.extend(["--api", "text"].map(String::from));
        } else {
            args.extend(["--features", "TABLES,FORMS"].map(String::from));
        }
        if let Some(bucket) = params["OutputConfig"]["S3Bucket"].as_str() {
            args.extend(["--output-bucket".into(), bucket.into()]);
        }
        if let Some(prefix) = params["OutputConfig"]["S3Prefix"].as_str() {
            args.extend(["--output-prefix".into(), prefix.into()]);
        }
        if let Some(key) = params["KMSKeyId"].as_str() {
            args.extend(["--kms-key".into(), key.into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args)
    }
}

/// `rule -> worst status` of one job.
fn statuses(job: &Value) -> BTreeMap<String, String> {
    let rank = |s: &str| {
        ["pass", "inconclusive", "fail"]
            .iter()
            .position(|x| *x == s)
    };
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for f in job["findings"].as_array().unwrap() {
        let (rule, status) = (
            f["rule_id"].as_str().unwrap(),
            f["status"].as_str().unwrap(),
        );
        let e = out.entry(rule.into()).or_insert_with(|| status.into());
        if rank(status) > rank(e) {
            *e = status.into();
        }
    }
    out
}

/// The rules a job did not PASS (nor skip as not applicable).
fn not_passed(job: &Value, status: &str) -> Vec<String> {
    statuses(job)
        .into_iter()
        .filter(|(_, s)| s == status)
        .map(|(r, _)| r)
        .collect()
}

#[test]
fn usage_errors_need_no_aws() {
    let run = Command::new(env!("CARGO_BIN_EXE_textract-audit"))
        .args(["submit", "--features", "TABLES", "--region", "us-east-1"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("nothing to submit"));
    let run = Command::new(env!("CARGO_BIN_EXE_textract-audit"))
        .args(["submit", "--document", "s3://b/k", "--features", "QUERIES"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&run.stderr)
            .contains("the QUERIES feature and --query go together")
    );
}

#[test]
fn each_table_row_end_to_end() {
    let Some(lab) = lab() else { return };
    for (scenario, row, verdict, code) in [
        ("row1", 1, "pass", 0),
        ("row2", 2, "inconclusive", 4),
        ("row2-text", 2, "inconclusive", 4),
        ("row3", 3, "pass", 0),
        ("row4", 4, "inconclusive", 4),
        ("row4-bucket-key", 4, "inconclusive", 4),
    ] {
        let seed = lab.seed(scenario, &json!({}));
        let run = lab.submit(&seed, &[]);
        let context = format!("{scenario}: exit {}\nstderr:\n{}", run.code, run.stderr);
        assert!(run.stderr.contains("preflight: "), "{context}");
        assert!(run.stderr.contains(" will fail\n"), "{context}");
        assert!(
            run.stderr
                .lines()
                .any(|l| l.trim_start().starts_with("=>")
                    && l.contains(&format!("table   row {row}: "))),
            "{context}"
        );
        let report = run.report();
        let jobs = report["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), 1, "{context}");
        let job = &jobs[0];
        assert_eq!(
            run.started(),
            [job["job_id"].as_str().unwrap()],
            "{context}"
        );
        assert_eq!(job["job_status"], "SUCCEEDED", "{context}");
        assert_eq!(job["verdict"], verdict, "{context}");
        assert_eq!(run.code, code, "{context}");
        assert!(not_passed(job, "fail").is_empty(), "{context}");
        let inconclusive = not_passed(job, "inconclusive");
        if row == 2 || row == 4 {
            assert_eq!(inconclusive, NEED_DATA_EVENTS, "{context}");
            assert!(
                run.stderr
                    .contains("hint: S3 data events reach trail log files"),
                "{context}"
            );
            assert!(
                run.stderr.contains(&format!(
                    "textract-audit verify --job-id {} --region us-east-1",
                    job["job_id"].as_str().unwrap()
                )),
                "{context}"
            );
        } else {
            assert!(inconclusive.is_empty(), "{context}");
            assert!(!run.stderr.contains("hint:"), "{context}");
        }
        for rule in ["documented-mode", "evidence-start-event", "evidence-window"] {
            assert_eq!(statuses(job)[rule], "pass", "{rule}: {context}");
        }
    }
}

#[test]
fn waiting_for_evidence_rereads_the_trail_until_the_data_events_arrive() {
    let Some(lab) = lab() else { return };
    let seed = lab.seed("row4", &json!({}));
    let trail = format!(
        "s3://{}/{}",
        seed["trail"]["bucket"].as_str().unwrap(),
        seed["trail"]["prefix"].as_str().unwrap()
    );
    std::thread::scope(|s| {
        // The trail delivers its log files while `submit` is already waiting for them.
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(2500));
            lab.control("flush-trail", &json!({}));
        });
        let run = lab.submit(&seed, &["--trail", &trail, "--wait-for-evidence", "30s"]);
        let context = format!("exit {}\nstderr:\n{}", run.code, run.stderr);
        assert!(
            run.stderr
                .contains("waiting for trail log files with the S3 data events of 1 job(s)"),
            "{context}"
        );
        let job = &run.report()["jobs"][0];
        assert_eq!(job["verdict"], "pass", "{context}");
        assert_eq!(run.code, 0, "{context}");
        assert_eq!(statuses(job)["evidence-data-events"], "pass", "{context}");
        assert!(!run.stderr.contains("hint:"), "{context}");
    });
}

#[test]
fn several_documents_are_submitted_and_verified_together() {
    let Some(lab) = lab() else { return };
    let seed = lab.seed("row2", &json!({}));
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("scan.pdf");
    std::fs::write(
        &local,
        b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n",
    )
    .unwrap();
    let manifest = dir.path().join("batch.txt");
    std::fs::write(
        &manifest,
        "# two more\ns3://lab-input/docs/sample.pdf\nscan.pdf\n",
    )
    .unwrap();
    let run = lab.submit(
        &seed,
        &[
            "--manifest",
            manifest.to_str().unwrap(),
            "--input",
            "s3://lab-input/uploads/",
            "--upload-sse",
            "aws:kms",
            "--upload-kms-key",
            "alias/lab-textract",
            "--concurrency",
            "2",
        ],
    );
    let context = format!("exit {}\nstderr:\n{}", run.code, run.stderr);
    let started = run.started();
    assert_eq!(started.len(), 3, "{context}");
    assert!(
        run.stderr.contains("upload  scan.pdf") || run.stderr.contains("scan.pdf ("),
        "{context}"
    );
    let report = run.report();
    let ids: Vec<&str> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, started, "one report, in submission order: {context}");
    assert_eq!(run.code, 4, "{context}");
    for job in report["jobs"].as_array().unwrap() {
        assert_eq!(
            not_passed(job, "inconclusive"),
            NEED_DATA_EVENTS,
            "{context}"
        );
    }
    // The upload asked for SSE-KMS with the CMK: the lab's data event says what S3 applied.
    let (_, events) = http(lab.addr(), "GET", "/_lab/events", &[], b"");
    let put = json_of(&events)["Records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["eventName"] == "PutObject" && r["requestParameters"]["key"] == "uploads/scan.pdf"
        })
        .cloned()
        .expect("the upload's PutObject record");
    assert_eq!(put["additionalEventData"]["SSEApplied"], "SSE_KMS", "{put}");
}

#[test]
fn resubmitting_with_the_same_token_returns_the_same_job() {
    let Some(lab) = lab() else { return };
    let seed = lab.seed("row2", &json!({}));
    let first = lab.submit(&seed, &["--client-request-token", "audit-42"]);
    let second = lab.submit(&seed, &["--client-request-token", "audit-42"]);
    assert_eq!(first.started().len(), 1, "{}", first.stderr);
    assert_eq!(first.started(), second.started(), "{}", second.stderr);
    let other = lab.submit(&seed, &["--client-request-token", "audit-43"]);
    assert_ne!(first.started(), other.started(), "{}", other.stderr);
    // The same token with other settings is refused by Textract, with the fix.
    let mismatch = lab.submit(
        &seed,
        &["--client-request-token", "audit-42", "--job-tag", "other"],
    );
    assert_eq!(mismatch.code, 1, "{}", mismatch.stderr);
    assert!(
        mismatch
            .stderr
            .contains("StartDocumentAnalysis: IdempotentParameterMismatchException"),
        "{}",
        mismatch.stderr
    );
    assert!(
        mismatch
            .stderr
            .contains("fix: this --client-request-token was used with other parameters"),
        "{}",
        mismatch.stderr
    );
    assert!(
        mismatch
            .stderr
            .ends_with("error: no job could be started\n"),
        "{}",
        mismatch.stderr
    );
}

#[test]
fn a_job_that_fails_is_reported_and_not_a_pass() {
    let Some(lab) = lab() else { return };
    let seed = lab.seed("row2", &json!({"job_status": "FAILED"}));
    let run = lab.submit(&seed, &[]);
    let context = format!("exit {}\nstderr:\n{}", run.code, run.stderr);
    let job = &run.report()["jobs"][0];
    assert_eq!(job["job_status"], "FAILED", "{context}");
    assert_eq!(job["verdict"], "inconclusive", "{context}");
    assert_eq!(run.code, 4, "{context}");
    assert!(
        run.stderr.contains(&format!(
            "note: job {} FAILED: ",
            job["job_id"].as_str().unwrap()
        )),
        "{context}"
    );
}

#[test]
fn a_job_still_running_at_the_timeout_is_inconclusive_with_the_command_for_later() {
    let Some(lab) = lab() else { return };
    let seed = lab.seed("row2", &json!({"job_status": "IN_PROGRESS"}));
    let began = std::time::Instant::now();
    let run = lab.submit(&seed, &["--wait-timeout", "3s"]);
    let context = format!("exit {}\nstderr:\n{}", run.code, run.stderr);
    let waited = began.elapsed().as_secs_f64();
    assert!((3.0..10.0).contains(&waited), "waited {waited}s: {context}");
    let job = &run.report()["jobs"][0];
    let id = job["job_id"].as_str().unwrap();
    assert_eq!(job["job_status"], "IN_PROGRESS", "{context}");
    assert_eq!(job["verdict"], "inconclusive", "{context}");
    assert_eq!(
        statuses(job)["results-present"],
        "inconclusive",
        "{context}"
    );
    assert_eq!(run.code, 4, "{context}");
    assert!(
        run.stderr.contains(&format!(
            "timeout: job {id} is still IN_PROGRESS after 3s: INCONCLUSIVE"
        )),
        "{context}"
    );
    assert!(
        run.stderr.contains(&format!(
            "  textract-audit verify --job-id {id} --region us-east-1 --endpoint-url {}\n",
            lab.endpoint
        )),
        "{context}"
    );
}

#[test]
fn preflight_catches_a_disabled_key() {
    let Some(lab) = lab() else { return };
    let seed = lab.seed("row4", &json!({}));
    lab.aws_json(
        "kms",
        "TrentService.DisableKey",
        &json!({"KeyId": seed["kms"]["key_id"]}),
    );
    let line = |run: &Run| {
        run.stderr
            .lines()
            .find(|l| l.trim_start().starts_with("FAIL") && l.contains(" key "))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no FAIL key line:\n{}", run.stderr))
    };

    let dry = lab.submit(&seed, &["--dry-run"]);
    assert_eq!(dry.code, 3, "{}", dry.stderr);
    assert!(
        line(&dry).contains("KeyState is Disabled (must be Enabled)"),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stdout.is_empty() && dry.started().is_empty(),
        "{}",
        dry.stderr
    );

    let refused = lab.submit(&seed, &[]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("error: not starting: the preflight says the jobs would fail"),
        "{}",
        refused.stderr
    );

    // Started anyway, Textract refuses the key: the AWS code and what to fix.
    let forced = lab.submit(&seed, &["--force"]);
    assert_eq!(forced.code, 1, "{}", forced.stderr);
    assert!(
        forced
            .stderr
            .contains("StartDocumentAnalysis: InvalidKMSKeyException"),
        "{}",
        forced.stderr
    );
    assert!(
        forced
            .stderr
            .contains("fix: the key must exist in this Region, be Enabled"),
        "{}",
        forced.stderr
    );

    // The same settings with the key enabled again: every check is ok.
    lab.aws_json(
        "kms",
        "TrentService.EnableKey",
        &json!({"KeyId": seed["kms"]["key_id"]}),
    );
    let ok = lab.submit(&seed, &["--dry-run"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stderr
            .ends_with("preflight: 6 ok, 0 cannot be confirmed, 0 will fail\n"),
        "{}",
        ok.stderr
    );
}
