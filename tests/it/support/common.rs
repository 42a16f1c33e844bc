//! Helpers shared by the integration tests: real git-annex repositories,
//! a real S3 API server (moto_server), and the built remote on PATH.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The folder holding the built `git-annex-remote-annexa`.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_git-annex-remote-annexa"))
        .parent()
        .expect("binary has a folder")
        .to_path_buf()
}

/// The project-local virtual environments `make deps` fills
/// (`contrib/install-deps.sh`): `$ANNEXA_VENV`, else `.venv/` in the checkout.
pub fn venv_root() -> PathBuf {
    match std::env::var_os("ANNEXA_VENV") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"),
    }
}

/// The folder holding moto_server and datalad (the tools venv), so tests
/// find them also when run without `make test`.
pub fn tools_bin() -> PathBuf {
    venv_root().join("tools/bin")
}

/// The folder holding the newest git-annex (PyPI `git-annex`). Panics with
/// the fix when it is missing: tests against it must not pass by skipping.
pub fn newest_git_annex_bin() -> PathBuf {
    let dir = venv_root().join("git-annex-newest/bin");
    assert!(
        dir.join("git-annex").is_file(),
        "the newest git-annex is not installed at {}: run `make deps`",
        dir.display()
    );
    dir
}

/// PATH with our binaries first, so git-annex finds this build, then the
/// tools venv. Debian's git-annex stays the default: the tools venv holds none.
pub fn test_path() -> String {
    format!(
        "{}:{}:{}",
        bin_dir().display(),
        tools_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A tool from the tools venv when it is there, else from PATH.
pub fn tool(name: &str) -> PathBuf {
    let local = tools_bin().join(name);
    if local.is_file() {
        local
    } else {
        PathBuf::from(name)
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until something listens on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A moto_server S3 endpoint on loopback, stopped on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(tool("moto_server"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("moto_server is installed (make test installs it)");
            let mut moto = Moto { child, port };
            if wait_for_port(port, Duration::from_secs(30)) {
                return moto;
            }
            let _ = moto.child.kill();
        }
        panic!("moto_server did not start");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Puts `data` at `bucket/key` the way another tool would (unsigned:
    /// moto does not check signatures).
    pub fn put_object(&self, bucket_and_key: &str, data: &str) {
        let object = format!("{}/{bucket_and_key}", self.endpoint());
        let status = Command::new("curl")
            .args(["-sf", "-X", "PUT"])
            .args(["-H", "Content-Type: application/octet-stream"])
            .args(["--data-binary", data, &object])
            .status()
            .unwrap();
        assert!(status.success(), "PUT {object} failed");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A git-annex repository in a temporary folder.
pub struct Repo {
    pub dir: PathBuf,
    envs: Vec<(String, String)>,
    /// Folders put before the test PATH (e.g. the newest git-annex's).
    path_front: Vec<PathBuf>,
}

/// Which git-annex a repository's commands run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitAnnex {
    /// Debian's 10.20230126, first on the system PATH: the default.
    Debian,
    /// The newest release, from PyPI, in the project's venv.
    Newest,
}

/// Fake AWS credentials (moto does not check them, but annexa requires some
/// for writes, exactly as with real S3).
pub const AWS_KEY: &str = "AKIAANNEXATEST";
pub const AWS_SECRET: &str = "annexa-test-secret-value";

impl Repo {
    /// `git init` + `git annex init` in `dir`.
    pub fn init(dir: &Path) -> Repo {
        Repo::init_with(dir, GitAnnex::Debian)
    }

    /// `git init` + `git annex init` in `dir`, with the chosen git-annex
    /// for every command run in this repository.
    pub fn init_with(dir: &Path, git_annex: GitAnnex) -> Repo {
        std::fs::create_dir_all(dir).unwrap();
        let repo = Repo {
            dir: dir.to_path_buf(),
            envs: vec![
                ("AWS_ACCESS_KEY_ID".into(), AWS_KEY.into()),
                ("AWS_SECRET_ACCESS_KEY".into(), AWS_SECRET.into()),
            ],
            path_front: match git_annex {
                GitAnnex::Debian => vec![],
                GitAnnex::Newest => vec![newest_git_annex_bin()],
            },
        };
        repo.ok(&["git", "init", "-q"]);
        repo.ok(&["git", "annex", "init", "-q", "test"]);
        repo
    }

    /// An existing repository (e.g. a clone).
    pub fn open(dir: &Path) -> Repo {
        Repo {
            dir: dir.to_path_buf(),
            envs: vec![],
            path_front: vec![],
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Repo {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// The PATH its commands run with.
    pub fn path(&self) -> String {
        let mut parts: Vec<String> = self
            .path_front
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        parts.push(test_path());
        parts.join(":")
    }

    pub fn command(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..])
            .current_dir(&self.dir)
            .env("PATH", self.path())
            .env("GIT_AUTHOR_NAME", "annexa tests")
            .env("GIT_AUTHOR_EMAIL", "annexa@localhost")
            .env("GIT_COMMITTER_NAME", "annexa tests")
            .env("GIT_COMMITTER_EMAIL", "annexa@localhost")
            .env_remove("ANNEXA_MAX_RATE");
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, argv: &[&str]) -> Output {
        self.command(argv).output().expect("command runs")
    }

    /// Runs a command that must succeed; panics with its output otherwise.
    pub fn ok(&self, argv: &[&str]) -> String {
        let out = self.run(argv);
        assert!(
            out.status.success(),
            "{argv:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `git annex initremote NAME type=external externaltype=annexa
    /// encryption=none PARAMS...`: its output (some tests expect a refusal).
    pub fn initremote(&self, name: &str, params: &[&str]) -> Output {
        self.run(&initremote_argv(name, params))
    }

    /// [`Repo::initremote`], which must succeed.
    pub fn initremote_ok(&self, name: &str, params: &[&str]) -> String {
        self.ok(&initremote_argv(name, params))
    }

    pub fn write(&self, name: &str, content: &[u8]) {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, content).unwrap();
    }
}

fn initremote_argv<'a>(name: &'a str, params: &[&'a str]) -> Vec<&'a str> {
    let mut argv = vec!["git", "annex", "initremote", name, "type=external"];
    argv.extend(["externaltype=annexa", "encryption=none"]);
    argv.extend_from_slice(params);
    argv
}

/// A command's stdout then stderr, as text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Deterministic pseudo-random bytes (xorshift), distinct per seed.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A private gpg home under `dir` for runs with encryption: other tests'
/// gpg on the shared ~/.gnupg cause lock contention, and gpg's default S2K
/// stretching (~65 M hash rounds per call) would dominate a run that
/// encrypts every chunk. The crypto path git-annex takes is unchanged.
pub fn private_gnupg_home(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let gnupg = dir.join("gnupg");
    std::fs::create_dir_all(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(gnupg.join("gpg.conf"), "s2k-count 65536\n").unwrap();
    gnupg
}

/// One HTTP/1.1 request to a fake service on loopback `port`, read to the
/// end: (status, head, body).
pub fn raw_http(
    port: u16,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .map(|(h, b)| (h.to_string(), b.to_string()))
        .unwrap_or_default();
    (status, head, body)
}
