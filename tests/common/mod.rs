//! The local AWS lab harness shared by the integration tests that need it (`lab`, `submit`,
//! `lab_readers`), and the report validators' Python (`cli`, `lab`).
//!
//! `cargo test` runs every lab test for real. Without `TEXTRACT_AUDIT_LAB_ENDPOINT` (a lab
//! someone started), the first test that needs the lab starts one under
//! `target/tmp/textract-audit/lab/`, in a virtualenv made once from the pinned
//! `tests/lab/requirements.txt` (`TEXTRACT_AUDIT_LAB_PYTHON` names another python); the
//! validators get theirs the same way from `tests/validate/requirements.txt` unless
//! `TEXTRACT_AUDIT_VALIDATOR_PYTHON` names one.
//!
//! One lab serves every test process of a run, also test binaries run in parallel: a process
//! joins under `control.lock` and then holds a shared flock on `users.lock` until it exits (the
//! kernel releases it however the process ends); the lab (`lab.py --exit-when-unused`) stops
//! a few seconds after the last holder is gone. The lab is one account, so tests take turns
//! on `turn.lock`, across threads and processes.
//!
//! The only opt-out is `TEXTRACT_AUDIT_NO_LAB=1` at build time (`build.rs` sets `cfg(no_lab)`):
//! every test that needs the lab or the validators is then `#[ignore]`d with the reason, never
//! counted as passed. Each such test carries
//! `#[cfg_attr(no_lab, ignore = "…")]`; one without it fails under the opt-out, by design.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

pub const ENV: &str = "TEXTRACT_AUDIT_LAB_ENDPOINT";

/// `target/tmp/textract-audit/`: the harness's virtualenvs, the shared lab and its locks.
fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("textract-audit");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lock_file(path: &Path) -> File {
    File::options()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A python with `requirements` installed: `$var` if set, else the virtualenv `name` under
/// `target/tmp/textract-audit/`, (re)made when it is missing or its requirements changed.
fn python(var: &str, name: &str, requirements: &str) -> PathBuf {
    if let Some(python) = std::env::var_os(var) {
        return python.into();
    }
    if cfg!(no_lab) {
        panic!(
            "TEXTRACT_AUDIT_NO_LAB is set, yet a test asked for {name}: mark it \
             #[cfg_attr(no_lab, ignore = \"…\")]"
        );
    }
    let dir = work_dir();
    let _turn = lock_file(&dir.join(format!("{name}.lock")));
    _turn.lock().unwrap();
    let venv = dir.join(name);
    let python = venv.join("bin/python");
    let wanted = std::fs::read(repo().join(requirements)).unwrap();
    let stamp = venv.join("installed-requirements.txt");
    if python.exists() && std::fs::read(&stamp).is_ok_and(|s| s == wanted) {
        return python;
    }
    let _ = writeln!(
        std::io::stderr(),
        "making the virtualenv {} from {requirements} (once; needs python3 and PyPI; \
         TEXTRACT_AUDIT_NO_LAB=1 opts out)",
        venv.display()
    );
    let _ = std::fs::remove_dir_all(&venv);
    let bootstrap = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    run_setup(Command::new(&bootstrap).arg("-m").arg("venv").arg(&venv));
    run_setup(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(repo().join(requirements)),
    );
    std::fs::write(&stamp, wanted).unwrap();
    python
}

fn run_setup(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e} (TEXTRACT_AUDIT_NO_LAB=1 opts out)"));
    assert!(
        out.status.success(),
        "{command:?} failed (TEXTRACT_AUDIT_NO_LAB=1 opts out):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The python that runs `tests/validate/validate_reports.py`.
pub fn validator_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            python(
                "TEXTRACT_AUDIT_VALIDATOR_PYTHON",
                "validate-venv",
                "tests/validate/requirements.txt",
            )
        })
        .clone()
}

/// Whether a lab answers its health check at `endpoint`.
fn healthy(endpoint: &str) -> bool {
    let Some(addr) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /_lab/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut reply = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut reply).is_ok()
        && reply.starts_with("HTTP/1.1 200")
}

/// The endpoint of the lab this process uses: `TEXTRACT_AUDIT_LAB_ENDPOINT`, or the shared lab,
/// started if no process of the run has started it yet.
fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    // The shared flock on users.lock, held until the process exits.
    static USING: OnceLock<File> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Ok(endpoint) = std::env::var(ENV) {
            return endpoint.trim_end_matches('/').to_owned();
        }
        let state = work_dir().join("lab");
        std::fs::create_dir_all(&state).unwrap();
        let control = lock_file(&state.join("control.lock"));
        control.lock().unwrap();
        let users = lock_file(&state.join("users.lock"));
        users.lock_shared().unwrap();
        USING.set(users).unwrap();
        if let Ok(endpoint) = std::fs::read_to_string(state.join("endpoint")) {
            let endpoint = endpoint.trim().to_owned();
            if healthy(&endpoint) {
                return endpoint;
            }
        }
        let python = python(
            "TEXTRACT_AUDIT_LAB_PYTHON",
            "lab-venv",
            "tests/lab/requirements.txt",
        );
        let out = Command::new(repo().join("tests/lab/start.sh"))
            .arg(&state)
            .arg(&python)
            .env("LAB_EXIT_WHEN_UNUSED", "1")
            .output()
            .expect("tests/lab/start.sh runs");
        assert!(
            out.status.success(),
            "the lab did not start (TEXTRACT_AUDIT_NO_LAB=1 opts out):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let endpoint = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let _ = writeln!(
            std::io::stderr(),
            "started the shared test lab at {endpoint} (log: {})",
            state.join("lab.log").display()
        );
        endpoint
    })
}

/// The lab, reset and held by this test until it is dropped.
pub fn lab() -> Lab {
    if cfg!(no_lab) {
        panic!(
            "TEXTRACT_AUDIT_NO_LAB is set, yet a test asked for the lab: mark it \
             #[cfg_attr(no_lab, ignore = \"…\")]"
        );
    }
    let endpoint = endpoint().to_owned();
    let turn = lock_file(&work_dir().join("turn.lock"));
    turn.lock().unwrap();
    let lab = Lab {
        endpoint,
        _turn: turn,
    };
    lab.control("POST", "reset", &json!({}));
    lab
}

pub struct Lab {
    pub endpoint: String,
    /// The exclusive flock on `turn.lock`: one test at a time on the one lab account.
    _turn: File,
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
        self.run_env(args, &[])
    }

    /// [`run`](Self::run) with more environment variables (e.g. `AWS_ENDPOINT_URL` for a
    /// command that takes no `--endpoint-url`).
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
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
            .envs(env.iter().copied())
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
/// with the report validators' python.
pub fn validate_report_schema(report: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    std::fs::write(&path, report.to_string()).unwrap();
    let out = Command::new(validator_python())
        .arg(repo().join("tests/validate/validate_reports.py"))
        .arg(&path)
        .output()
        .expect("the validator runs");
    assert!(
        out.status.success(),
        "the report does not match the v1 schema:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
