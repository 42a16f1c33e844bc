//! The one harness for the servers of `tests/fakes/`: each is a Python
//! script that prints `READY PORT [PORT...]` once it listens, killed on drop.
//! [`FakeServer`] owns the process and its ports and asks the test-only
//! endpoints every fake service has (`/_fake/...`: state, logs); each
//! service's wrapper (`support::dataverse`, ...) adds only what is its own
//! (its token, ids, service-specific calls) and derefs to it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::common::raw_http;

pub struct FakeServer {
    child: Child,
    /// The ports its `READY` line named, in order (the API's first).
    pub ports: Vec<u16>,
    _dir: Option<tempfile::TempDir>,
}

impl FakeServer {
    /// A fake service: `tests/fakes/SCRIPT --port 0 --data-dir DIR ARGS...`,
    /// its stored files in a temporary folder of its own.
    pub fn start(script: &str, args: &[&str]) -> FakeServer {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = ["--port", "0", "--data-dir", dir.path().to_str().unwrap()];
        let mut server = FakeServer::spawn(script, &[&data_dir[..], args].concat());
        server._dir = Some(dir);
        server
    }

    /// `tests/fakes/SCRIPT ARGS...` as it is (e.g. the fault proxy).
    pub fn spawn(script: &str, args: &[&str]) -> FakeServer {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fakes")
            .join(script);
        let mut child = Command::new("python3")
            .arg(path)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 runs tests/fakes/{script}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.first(), Some(&"READY"), "{script} said {line:?}");
        FakeServer {
            child,
            ports: words[1..].iter().map(|w| w.parse().unwrap()).collect(),
            _dir: None,
        }
    }

    /// The API port (the first its `READY` line named).
    pub fn port(&self) -> u16 {
        self.ports[0]
    }

    /// `http://127.0.0.1:PORT` of the API port.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// A request to the API port, read to the end: (status, head, body).
    pub fn http(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> (u16, String, String) {
        raw_http(self.port(), method, path_and_query, body, headers)
    }

    /// A test-only endpoint (`/_fake/WHAT`), its JSON answer.
    pub fn admin(&self, method: &str, what: &str) -> Value {
        self.admin_with(method, what, b"")
    }

    /// A test-only endpoint sent `body`, its JSON answer.
    pub fn admin_with(&self, method: &str, what: &str, body: &[u8]) -> Value {
        let (status, _, text) = self.http(method, &format!("/_fake/{what}"), body, &[]);
        assert!(status < 300, "/_fake/{what}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Every request the API port answered, as the fake logged it.
    pub fn api_log(&self) -> Vec<Value> {
        self.admin("GET", "api-log")["requests"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Headers of every request the storage host received, and those that
    /// carried a credential.
    pub fn storage_log(&self) -> (Vec<Value>, Vec<Value>) {
        let v = self.admin("GET", "storage-log");
        (
            v["requests"].as_array().unwrap().clone(),
            v["violations"].as_array().unwrap().clone(),
        )
    }

    /// Everything the fake holds (its own shape per service).
    pub fn state(&self) -> Value {
        self.admin("GET", "state")
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `impl Deref<Target = FakeServer>` for a service's wrapper, whose field
/// `server` holds it: the wrapper's users ask the harness directly.
macro_rules! derefs_to_fake_server {
    ($wrapper:ty) => {
        impl std::ops::Deref for $wrapper {
            type Target = $crate::support::fake::FakeServer;
            fn deref(&self) -> &Self::Target {
                &self.server
            }
        }
    };
}
pub(crate) use derefs_to_fake_server;
