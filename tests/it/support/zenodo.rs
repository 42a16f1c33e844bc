//! The fake Zenodo (InvenioRDM) server for tests: start, ask, stop.
#![allow(dead_code)]

use super::fake::FakeProcess;

pub const TOKEN: &str = "fake-zenodo-token-0123456789";
/// The draft every fake starts with.
pub const RECORD: u64 = 4242;

/// A running `tests/fakes/zenodo_server.py`, killed on drop.
pub struct FakeZenodo {
    _process: FakeProcess,
    pub port: u16,
}

impl FakeZenodo {
    pub fn start(extra: &[&str]) -> FakeZenodo {
        let process = FakeProcess::start(
            "zenodo_server.py",
            &[&["--token", TOKEN, "--record", &RECORD.to_string()], extra].concat(),
        );
        FakeZenodo {
            port: process.ports[0],
            _process: process,
        }
    }

    /// The `api=` value.
    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.port)
    }

    pub fn http(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> (u16, String, String) {
        super::common::raw_http(self.port, method, path_and_query, body, headers)
    }

    /// A test-only endpoint (`/_fake/WHAT`), its JSON answer.
    pub fn admin(&self, method: &str, what: &str) -> serde_json::Value {
        self.admin_with(method, what, b"")
    }

    pub fn admin_with(&self, method: &str, what: &str, body: &[u8]) -> serde_json::Value {
        let (status, _, text) = self.http(method, &format!("/_fake/{what}"), body, &[]);
        assert!(status < 300, "/_fake/{what}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Publishes the record's open draft (its own, or its next version's).
    pub fn publish(&self) {
        self.admin("POST", &format!("publish?record={RECORD}"));
    }

    /// A committed file `name` in draft `record`.
    pub fn seed(&self, record: u64, name: &str, data: &[u8]) {
        self.admin_with(
            "POST",
            &format!(
                "file?record={record}&name={}",
                percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
            ),
            data,
        );
    }

    pub fn api_log(&self) -> Vec<serde_json::Value> {
        self.admin("GET", "api-log")["requests"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Every record and draft: id -> {parent, published, index, files}.
    pub fn state(&self) -> serde_json::Value {
        self.admin("GET", "state")
    }
}
