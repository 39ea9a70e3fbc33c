//! The local AWS lab harness shared by the integration tests that need it (`lab`, `submit`):
//! one lab at a time per test binary, the lab's control API, AWS calls the tests make to set
//! the lab up, and running the real binary with lab credentials.
//!
//! Each test binary uses a different part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};

pub const ENV: &str = "TEXTRACT_AUDIT_LAB_ENDPOINT";
static LAB_LOCK: Mutex<()> = Mutex::new(());

/// The lab, held for one test; `None` (with the how-to line printed) when no lab is running.
pub fn lab() -> Option<Lab> {
    let Ok(endpoint) = std::env::var(ENV) else {
        // Straight to stderr, past the test harness's capture, so a plain `cargo test` shows it.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: no AWS lab; run `.ci/run`, or start one with \
             `endpoint=$(tests/lab/start.sh .lab)` and run `{ENV}=$endpoint cargo test --test lab --test submit --test faults`"
        );
        return None;
    };
    let guard = LAB_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab {
        endpoint: endpoint.trim_end_matches('/').to_owned(),
        _turn: guard,
    };
    lab.control("POST", "reset", &json!({}));
    Some(lab)
}

pub struct Lab {
    pub endpoint: String,
    _turn: MutexGuard<'static, ()>,
}

/// One run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn report(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    /// The job ids of `submit`'s `started job …` lines, in order.
    pub fn started(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter_map(|l| l.strip_prefix("started job "))
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect()
    }
}

impl Lab {
    /// A minimal HTTP/1.1 exchange with the lab (the control API and the lab's own set-up
    /// calls; what is under test talks to the lab through the AWS SDK).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> (u16, Value) {
        let addr = self
            .endpoint
            .strip_prefix("http://")
            .expect("an http:// endpoint");
        let body = body.to_string();
        let mut stream = TcpStream::connect(addr).expect("the lab accepts connections");
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8_lossy(&raw);
        let (head, payload) = raw.split_once("\r\n\r\n").expect("an HTTP response");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status");
        // Chunked replies: keep the JSON between the first '{' and the last '}'.
        let json = match (payload.find('{'), payload.rfind('}')) {
            (Some(a), Some(b)) => serde_json::from_str(&payload[a..=b]).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        (status, json)
    }

    pub fn control(&self, method: &str, name: &str, body: &Value) -> Value {
        let (status, reply) = self.http(method, &format!("/_lab/{name}"), &[], body);
        assert_eq!(status, 200, "/_lab/{name}: {reply}");
        reply
    }

    /// An AWS JSON-protocol call made by the test itself to set the lab up.
    pub fn aws_json(&self, service: &str, target: &str, body: &Value) -> Value {
        self.aws_json_in("us-east-1", service, target, body)
    }

    /// The same, signed for another Region (the lab records the call there).
    pub fn aws_json_in(&self, region: &str, service: &str, target: &str, body: &Value) -> Value {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, \
             SignedHeaders=host, Signature=0"
        );
        let (status, reply) = self.http(
            "POST",
            "/",
            &[
                ("X-Amz-Target", target),
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Authorization", &auth),
            ],
            body,
        );
        assert_eq!(status, 200, "{target}: {reply}");
        reply
    }

    /// Creates `scenario` (the lab starts empty) and returns its description.
    pub fn seed(&self, scenario: &str) -> Value {
        self.control(
            "POST",
            "seed",
            &json!({"scenario": scenario, "run_job": false}),
        )
    }

    /// Starts the seeded scenario's job; faults set before apply to it.
    pub fn start(&self, seed: &Value) -> String {
        let api = seed["job"]["api"].as_str().unwrap();
        let started = self.aws_json(
            "textract",
            &format!("Textract.{api}"),
            &seed["job"]["params"],
        );
        started["JobId"].as_str().expect("a JobId").to_owned()
    }

    /// Creates `scenario`, sets `faults`, then starts its job. Returns the seed description
    /// and the job id.
    pub fn job(&self, scenario: &str, faults: &Value) -> (Value, String) {
        let seed = self.seed(scenario);
        self.faults(faults);
        let job = self.start(&seed);
        (seed, job)
    }

    pub fn faults(&self, faults: &Value) {
        if faults.as_object().is_some_and(|f| !f.is_empty()) {
            self.control("POST", "faults", faults);
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
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

    /// `collect` live for `job` into the bundle directory `out`, with `extra` flags.
    pub fn collect(&self, job: &str, out: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "collect",
            "--job-id",
            job,
            "--region",
            "us-east-1",
            "--endpoint-url",
            &self.endpoint,
            "--out",
            out,
        ];
        args.extend(extra);
        self.run(&args)
    }

    /// `verify` live for `jobs`, JSON report, with `extra` flags.
    pub fn verify(&self, jobs: &[&str], extra: &[&str]) -> Run {
        let mut args = vec![
            "verify",
            "--region",
            "us-east-1",
            "--endpoint-url",
            &self.endpoint,
        ];
        for j in jobs {
            args.extend(["--job-id", j]);
        }
        args.extend(["--format", "json"]);
        args.extend(extra);
        self.run(&args)
    }
}

/// `rule -> status` of one job's findings, the worst status per rule.
pub fn statuses(job: &Value) -> std::collections::BTreeMap<String, String> {
    let rank = |s: &str| match s {
        "fail" => 3,
        "inconclusive" => 2,
        "pass" => 1,
        _ => 0,
    };
    let mut out = std::collections::BTreeMap::new();
    for f in job["findings"].as_array().unwrap() {
        let (rule, status) = (
            f["rule_id"].as_str().unwrap(),
            f["status"].as_str().unwrap(),
        );
        let e = out
            .entry(rule.to_owned())
            .or_insert_with(|| status.to_owned());
        if rank(status) > rank(e) {
            *e = status.to_owned();
        }
    }
    out
}

/// Checks a `textract-audit/v1` report against `docs/schema/textract-audit-v1.schema.json`
/// with the validator `.ci/run` installs (`TEXTRACT_AUDIT_VALIDATOR_PYTHON`); without it,
/// says so and returns.
pub fn validate_report_schema(report: &Value) {
    let Some(python) = std::env::var_os("TEXTRACT_AUDIT_VALIDATOR_PYTHON") else {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: JSON schema check (set TEXTRACT_AUDIT_VALIDATOR_PYTHON, see README)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    std::fs::write(&path, report.to_string()).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(python)
        .arg(root.join("tests/validate/validate_reports.py"))
        .arg(&path)
        .output()
        .expect("the validator runs");
    assert!(
        out.status.success(),
        "the report does not match the v1 schema:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
