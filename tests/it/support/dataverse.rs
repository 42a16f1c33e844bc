//! The fake Dataverse server for tests: start, ask, stop.

use super::fake::{derefs_to_fake_server, FakeServer};

pub const TOKEN: &str = "fake-token-0123456789";
pub const PID: &str = "doi:10.5072/FK2/TESTDS";

/// A running `tests/fakes/dataverse_server.py`, killed on drop.
pub struct FakeDataverse {
    server: FakeServer,
}

derefs_to_fake_server!(FakeDataverse);

impl FakeDataverse {
    pub fn start(extra: &[&str]) -> FakeDataverse {
        FakeDataverse {
            server: FakeServer::start(
                "dataverse_server.py",
                &[&["--token", TOKEN, "--dataset", PID], extra].concat(),
            ),
        }
    }

    /// The storage host its downloads are redirected to.
    pub fn storage_port(&self) -> u16 {
        self.ports[1]
    }

    pub fn publish(&self) {
        self.admin("POST", &format!("publish?persistentId={PID}&type=major"));
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
        let (status, _, answer) = self.http("DELETE", &at, b"", &[("X-Dataverse-key", TOKEN)]);
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
        let (status, _, answer) = self.http(
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
