//! The fake GitHub (Releases API) for tests: start, ask, stop.

use std::io::{Read, Write};
use std::time::Duration;

use super::fake::FakeProcess;

pub const GH_TOKEN: &str = "ghp_fake0123456789abcdef";
pub const GH_REPO: &str = "annexa/test";

/// A running `tests/fakes/github_server.py`, killed on drop.
pub struct FakeGithub {
    _process: FakeProcess,
    pub api_port: u16,
}

impl FakeGithub {
    /// Starts the fake with the repository [`GH_REPO`] (no releases) and
    /// `extra` arguments (e.g. `--release annexa/test:v1:draft`).
    pub fn start(extra: &[&str]) -> FakeGithub {
        let process = FakeProcess::start(
            "github_server.py",
            &[&["--token", GH_TOKEN, "--repo", GH_REPO], extra].concat(),
        );
        FakeGithub {
            api_port: process.ports[0],
            _process: process,
        }
    }

    /// The `api=` of a remote on this fake (also its web host).
    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// A request to the fake's API port; returns (status, body).
    pub fn http(&self, method: &str, path_and_query: &str, body: &[u8]) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.api_port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let req = format!(
            "{method} {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
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
        let body = text
            .split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default();
        (status, body)
    }

    pub fn admin(&self, method: &str, what: &str) -> serde_json::Value {
        self.admin_with(method, what, b"")
    }

    pub fn admin_with(&self, method: &str, what: &str, body: &[u8]) -> serde_json::Value {
        let (status, text) = self.http(method, &format!("/_fake/{what}"), body);
        assert!(status < 300, "/_fake/{what}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// `/_fake/config?...`
    pub fn configure(&self, query: &str) {
        self.admin("POST", &format!("config?{query}"));
    }

    /// Uploads asset `name` to release `tag` of [`GH_REPO`] (test-only
    /// endpoint); without `digest` GitHub lists no digest for it. Its id.
    pub fn add_asset(&self, tag: &str, name: &str, data: &[u8], digest: bool) -> u64 {
        let query = format!(
            "asset?repo={GH_REPO}&tag={tag}&name={name}{}",
            if digest { "" } else { "&digest=0" }
        );
        self.admin_with("POST", &query, data)["id"]
            .as_u64()
            .unwrap()
    }

    /// Deletes asset `id` of [`GH_REPO`] through the API, with the token.
    pub fn delete_asset(&self, id: u64) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.api_port)).unwrap();
        let req = format!(
            "DELETE /repos/{GH_REPO}/releases/assets/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Connection: close\r\nAuthorization: Bearer {GH_TOKEN}\r\nContent-Length: 0\r\n\r\n"
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(
            out.starts_with("HTTP/1.1 204") || out.starts_with("HTTP/1.0 204"),
            "{out}"
        );
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

    pub fn counts(&self) -> serde_json::Value {
        self.admin("GET", "counts")
    }

    /// Names of the assets of release `tag` of [`GH_REPO`].
    pub fn asset_names(&self, tag: &str) -> Vec<String> {
        let state = self.admin("GET", "state");
        state[GH_REPO]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["tag_name"] == tag)
            .flat_map(|r| r["assets"].as_array().unwrap().clone())
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect()
    }
}
