//! The fake Dataverse server for tests: start, ask, stop.

use std::io::{Read, Write};
use std::time::Duration;

use super::fake::FakeProcess;

pub const TOKEN: &str = "fake-token-0123456789";
pub const PID: &str = "doi:10.5072/FK2/TESTDS";

/// A running `tests/fakes/dataverse_server.py`, killed on drop.
pub struct FakeDataverse {
    _process: FakeProcess,
    pub api_port: u16,
    pub storage_port: u16,
}

impl FakeDataverse {
    pub fn start(extra: &[&str]) -> FakeDataverse {
        let process = FakeProcess::start(
            "dataverse_server.py",
            &[&["--token", TOKEN, "--dataset", PID], extra].concat(),
        );
        FakeDataverse {
            api_port: process.ports[0],
            storage_port: process.ports[1],
            _process: process,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// A request to the fake's API port; returns (status, body).
    pub fn http(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.api_port)).unwrap();
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
        let body = text
            .split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default();
        (status, body)
    }

    pub fn admin(&self, method: &str, what: &str) -> serde_json::Value {
        let (status, body) = self.http(method, &format!("/_fake/{what}"), b"", &[]);
        assert!(status < 300, "/_fake/{what}: {status} {body}");
        serde_json::from_str(&body).unwrap()
    }

    pub fn publish(&self) {
        self.admin("POST", &format!("publish?persistentId={PID}&type=major"));
    }

    /// Headers of every request the storage host received, and those that
    /// carried the token.
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

    pub fn state(&self) -> serde_json::Value {
        self.admin("GET", "state")
    }

    /// Files (label, directoryLabel, id) of the newest version.
    pub fn latest_files(&self) -> Vec<(String, String, u64)> {
        let state = self.state();
        let versions = state[PID]["versions"].as_array().unwrap().clone();
        let Some(last) = versions.last() else {
            return vec![];
        };
        last["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["label"].as_str().unwrap().to_string(),
                    f["directoryLabel"].as_str().unwrap_or("").to_string(),
                    f["id"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

/// Changes to the dataset made through the fake's API as a depositor
/// would (the token's user), for tests that watch a remote follow them.
impl FakeDataverse {
    /// Adds `data` as `path` (`folder/name`) to the draft.
    pub fn add_file(&self, path: &str, data: &[u8]) {
        let at = format!("/api/datasets/:persistentId/add?persistentId={PID}");
        self.upload("POST", &at, path, data);
    }

    /// Replaces the file at `path` with `data` (it gets a new id).
    pub fn replace_file(&self, path: &str, data: &[u8]) {
        let at = format!("/api/files/{}/replace", self.file_id(path));
        self.upload("POST", &at, path, data);
    }

    pub fn delete_file(&self, path: &str) {
        let at = format!("/api/files/{}", self.file_id(path));
        let (status, answer) = self.http("DELETE", &at, b"", &[("X-Dataverse-key", TOKEN)]);
        assert_eq!(status, 200, "{answer}");
    }

    /// The id of the file at `path` in the newest version.
    pub fn file_id(&self, path: &str) -> u64 {
        let (folder, name) = split_path(path);
        self.latest_files()
            .into_iter()
            .find(|(l, d, _)| l == name && d == folder)
            .unwrap_or_else(|| panic!("{path} is not in the dataset"))
            .2
    }

    fn upload(&self, method: &str, at: &str, path: &str, data: &[u8]) {
        let boundary = "annexa-test-boundary";
        let (folder, name) = split_path(path);
        let json = serde_json::json!({ "directoryLabel": folder }).to_string();
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"jsonData\"\r\n\r\n{json}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let ctype = format!("multipart/form-data; boundary={boundary}");
        let (status, answer) = self.http(
            method,
            at,
            &body,
            &[("X-Dataverse-key", TOKEN), ("Content-Type", &ctype)],
        );
        assert_eq!(status, 200, "{answer}");
    }
}

/// `folder/name` as (directoryLabel, label).
fn split_path(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}
