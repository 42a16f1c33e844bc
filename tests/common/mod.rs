//! Helpers shared by the integration tests: real git-annex repositories,
//! a real S3 API server (moto_server), and the built remote on PATH.
#![allow(dead_code)]

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

/// PATH with our binaries first, so git-annex finds this build.
pub fn test_path() -> String {
    format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
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
            let child = Command::new("moto_server")
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
}

/// Fake AWS credentials (moto does not check them, but annexa requires some
/// for writes, exactly as with real S3).
pub const AWS_KEY: &str = "AKIAANNEXATEST";
pub const AWS_SECRET: &str = "annexa-test-secret-value";

impl Repo {
    /// `git init` + `git annex init` in `dir`.
    pub fn init(dir: &Path) -> Repo {
        std::fs::create_dir_all(dir).unwrap();
        let repo = Repo {
            dir: dir.to_path_buf(),
            envs: vec![
                ("AWS_ACCESS_KEY_ID".into(), AWS_KEY.into()),
                ("AWS_SECRET_ACCESS_KEY".into(), AWS_SECRET.into()),
            ],
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
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Repo {
        self.envs.push((key.into(), value.into()));
        self
    }

    pub fn command(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..])
            .current_dir(&self.dir)
            .env("PATH", test_path())
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

    pub fn write(&self, name: &str, content: &[u8]) {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, content).unwrap();
    }
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

/// Summarises `git annex testremote` output: the failing lines, if any.
pub fn testremote_failures(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| l.contains("FAIL") || l.contains("failed"))
        .map(str::to_string)
        .collect()
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

/// Runs the full `git annex testremote NAME` and returns its output after
/// checking that it passed.
pub fn assert_testremote_passes(repo: &Repo, name: &str) -> String {
    let out = repo.run(&["git", "annex", "testremote", name]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "testremote {name} failed:\n{}\n--- full output ---\n{text}",
        testremote_failures(&text).join("\n")
    );
    assert!(
        text.contains("tests passed"),
        "no summary in testremote output:\n{text}"
    );
    text
}
