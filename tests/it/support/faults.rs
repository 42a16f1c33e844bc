//! The fault-injecting proxy (`tests/fakes/fault_proxy.py`), peak memory of
//! the remote processes, commands that must end in bounded time, and
//! git-annex's JSON records, for the soak and kill tests.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::common::{raw_http, Repo};
use super::fake::FakeServer;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Stall timeout the remote runs with under the proxy (`ANNEXA_TIMEOUT`,
/// seconds); the proxy's stalls last longer than this.
pub const REMOTE_TIMEOUT: &str = "2";
pub const PROXY_STALL_SECONDS: &str = "3";

/// Every fault the soak injects (the paging fault needs a listing and has
/// its own test).
pub const SOAK_KINDS: &[&str] = &[
    "reset",
    "status_5xx",
    "retry_after",
    "rate_limited",
    "stall_headers",
    "stall_body",
    "truncate",
    "html_200",
];

/// One upstream the proxy forwards to, and which request paths are objects
/// whose served bytes it counts.
pub struct Route {
    pub upstream_port: u16,
    pub objects: Option<&'static str>,
}

/// A running fault proxy, killed on drop.
pub struct FaultProxy {
    /// Its admin port first, then each route's, in the order given.
    server: FakeServer,
}

impl FaultProxy {
    /// The proxy with faults off (see [`FaultProxy::set_rate`]).
    pub fn start(seed: u64, kinds: &[&str], routes: &[Route]) -> FaultProxy {
        let (seed, kinds) = (seed.to_string(), kinds.join(","));
        let mut args = vec!["--seed", &seed, "--rate", "0"];
        args.extend(["--stall", PROXY_STALL_SECONDS, "--kinds", &kinds]);
        let specs: Vec<String> = routes
            .iter()
            .map(|route| {
                let mut spec = format!("127.0.0.1:{}", route.upstream_port);
                if let Some(pattern) = route.objects {
                    spec.push(',');
                    spec.push_str(pattern);
                }
                spec
            })
            .collect();
        for spec in &specs {
            args.extend(["--route", spec]);
        }
        let server = FakeServer::spawn("fault_proxy.py", &args);
        assert_eq!(server.ports.len(), routes.len() + 1);
        FaultProxy { server }
    }

    pub fn url(&self, route: usize) -> String {
        format!("http://127.0.0.1:{}", self.server.ports[route + 1])
    }

    fn admin(&self, method: &str, path: &str) -> serde_json::Value {
        let admin_port = self.server.ports[0];
        let (_, head, body) = raw_http(admin_port, method, path, b"", &[]);
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("proxy admin {path}: {e}: {head}\r\n\r\n{body}"))
    }

    /// Changes the share of requests that meet a fault (0 turns faults off).
    pub fn set_rate(&self, rate: f64) {
        self.admin("POST", &format!("/config?rate={rate}"));
    }

    /// Forgets objects already sent whole, so fetching them again after a
    /// drop is not counted as a refetch.
    pub fn forget_complete(&self) {
        self.admin("POST", "/forget");
    }

    pub fn stats(&self) -> ProxyStats {
        let v = self.admin("GET", "/stats");
        ProxyStats {
            requests: v["requests"].as_u64().unwrap(),
            faults: v["faults"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
                .collect(),
            served: v["served"].as_u64().unwrap(),
            refetched: v["refetched"].as_u64().unwrap(),
            refetched_objects: v["objects"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, o)| o["refetched"].as_u64() != Some(0))
                .map(|(p, o)| format!("{p}: {}", o["refetched"]))
                .collect(),
        }
    }
}

/// A repository in `dir/repo` with the S3 remote `R` on `bucket` at
/// `endpoint` (made there if missing), `extra` parameters added.
pub fn repo_with_s3_remote(dir: &Path, endpoint: &str, bucket: &str, extra: &[&str]) -> Repo {
    let repo = Repo::init(&dir.join("repo"));
    let (endpoint, bucket) = (format!("endpoint={endpoint}"), format!("bucket={bucket}"));
    let params = ["provider=s3", "createbucket=yes", &bucket, &endpoint];
    repo.initremote_ok("R", &[&params[..], extra].concat());
    repo
}

#[derive(Debug, Clone)]
pub struct ProxyStats {
    pub requests: u64,
    pub faults: BTreeMap<String, u64>,
    /// Body bytes of objects sent.
    pub served: u64,
    /// Body bytes of objects sent although they had been sent before.
    pub refetched: u64,
    pub refetched_objects: Vec<String>,
}

/// The `git-annex-remote-annexa` processes working in `dir` (or below).
pub fn remote_pids(dir: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let exe = std::fs::read_link(entry.path().join("exe")).unwrap_or_default();
        let cwd = std::fs::read_link(entry.path().join("cwd")).unwrap_or_default();
        if exe.ends_with("git-annex-remote-annexa") && cwd.starts_with(dir) {
            pids.push(pid);
        }
    }
    pids
}

/// A process's peak resident memory (VmHWM) in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Watches the remote processes working under a folder and keeps the
/// largest peak resident memory any of them reached. VmHWM is the kernel's
/// high-water mark, so sampling every 50 ms misses only growth in a
/// process's last 50 ms.
pub struct RssWatch {
    stop: Arc<AtomicBool>,
    peak_kib: Arc<AtomicU64>,
    processes: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssWatch {
    pub fn start(dir: &Path) -> RssWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_kib = Arc::new(AtomicU64::new(0));
        let processes = Arc::new(AtomicU64::new(0));
        let dir = dir.to_path_buf();
        let thread = {
            let (stop, peak_kib, processes) = (stop.clone(), peak_kib.clone(), processes.clone());
            std::thread::spawn(move || {
                let mut seen = std::collections::HashSet::new();
                while !stop.load(Ordering::Relaxed) {
                    for pid in remote_pids(&dir) {
                        if seen.insert(pid) {
                            processes.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Some(kib) = peak_rss_kib(pid) {
                            peak_kib.fetch_max(kib, Ordering::Relaxed);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        RssWatch {
            stop,
            peak_kib,
            processes,
            thread: Some(thread),
        }
    }

    /// The largest peak seen so far, in KiB, and how many processes were seen.
    pub fn peak(&self) -> (u64, u64) {
        (
            self.peak_kib.load(Ordering::Relaxed),
            self.processes.load(Ordering::Relaxed),
        )
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `cmd` in its own process group and waits at most `limit`: a
/// command still running then is a hang, and the test fails after killing
/// the whole group (git-annex and its remotes).
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("command starts");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let read_out = std::thread::spawn(move || read_all(stdout));
    let read_err = std::thread::spawn(move || read_all(stderr));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            kill_group(child.id());
            let _ = child.wait();
            panic!("{cmd:?} still running after {limit:?}: hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: read_out.join().unwrap(),
        stderr: read_err.join().unwrap(),
    }
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}

pub fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-9", "--", &format!("-{pgid}")])
        .status();
}

pub fn kill(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

/// What one `git annex ... --json --json-error-messages` run reported.
#[derive(Debug, Default, Clone)]
pub struct Records {
    pub ok: Vec<String>,
    /// File and the error messages git-annex printed for it.
    pub failed: Vec<(String, Vec<String>)>,
}

impl Records {
    pub fn parse(stdout: &[u8]) -> Records {
        let mut r = Records::default();
        for line in String::from_utf8_lossy(stdout).lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let Some(success) = v["success"].as_bool() else {
                continue;
            };
            let file = v["file"]
                .as_str()
                .or(v["key"].as_str())
                .unwrap_or("")
                .to_string();
            if success {
                r.ok.push(file);
            } else {
                // git-annex puts a remote's CHECKPRESENT-UNKNOWN message in
                // "note", transfer failures in "error-messages".
                let mut messages: Vec<String> = v["error-messages"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|m| m.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(note) = v["note"].as_str() {
                    messages.push(note.to_string());
                }
                r.failed.push((file, messages));
            }
        }
        r
    }

    pub fn total(&self) -> usize {
        self.ok.len() + self.failed.len()
    }
}

/// Deterministic pseudo-random numbers for seeded choices (splitmix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// Where a test may write its figures for docs/reliability.md
/// (`ANNEXA_SOAK_REPORT=FILE`, one JSON line appended per test).
pub fn report(name: &str, figures: serde_json::Value) {
    println!("{name}: {figures}");
    if let Some(path) = std::env::var_os("ANNEXA_SOAK_REPORT") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(PathBuf::from(path))
            .unwrap();
        writeln!(
            f,
            "{}",
            serde_json::json!({ "test": name, "figures": figures })
        )
        .unwrap();
    }
}
