//! The fake Figshare server for tests: start, ask, stop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const TOKEN: &str = "fake-figshare-token-0123456789";
/// The article every fake starts with.
pub const ARTICLE: u64 = 4242;

/// A running `tests/fakes/figshare_server.py`, killed on drop.
pub struct FakeFigshare {
    child: Child,
    pub api_port: u16,
    _dir: tempfile::TempDir,
}

impl FakeFigshare {
    pub fn start(extra: &[&str]) -> FakeFigshare {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/figshare_server.py");
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", "0", "--token", TOKEN])
            .args(["--article", &ARTICLE.to_string()])
            .args(["--data-dir", dir.path().to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the fake Figshare server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.first(), Some(&"READY"), "fake server said {line:?}");
        FakeFigshare {
            child,
            api_port: words[1].parse().unwrap(),
            _dir: dir,
        }
    }

    /// The `api=` value.
    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}/v2", self.api_port)
    }

    /// The web host (browser paths such as /ndownloader/files/ID).
    pub fn web(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// A request to the fake's API port; returns (status, headers+body).
    pub fn http(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> (u16, String, String) {
        super::common::raw_http(self.api_port, method, path_and_query, body, headers)
    }

    pub fn admin(&self, method: &str, what: &str) -> serde_json::Value {
        let (status, _, body) = self.http(method, &format!("/_fake/{what}"), b"", &[]);
        assert!(status < 300, "/_fake/{what}: {status} {body}");
        serde_json::from_str(&body).unwrap()
    }

    pub fn publish(&self) {
        self.admin("POST", &format!("publish?article={ARTICLE}"));
    }

    /// Headers of every request the storage host received, and those that
    /// carried `Authorization`.
    pub fn storage_log(&self) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
        let v = self.admin("GET", "storage-log");
        (
            v["requests"].as_array().unwrap().clone(),
            v["violations"].as_array().unwrap().clone(),
        )
    }

    pub fn api_log(&self) -> Vec<serde_json::Value> {
        self.admin("GET", "api-log")["requests"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// (name, id, status) of the article's current files.
    pub fn files(&self) -> Vec<(String, u64, String)> {
        let state = self.admin("GET", "state");
        state[ARTICLE.to_string()]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap().to_string(),
                    f["id"].as_u64().unwrap(),
                    f["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

impl Drop for FakeFigshare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
