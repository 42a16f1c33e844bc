//! The fake Zenodo (InvenioRDM) server for tests: start, ask, stop.
#![allow(dead_code)]

use super::fake::{derefs_to_fake_server, FakeServer};

pub const TOKEN: &str = "fake-zenodo-token-0123456789";
/// The draft every fake starts with.
pub const RECORD: u64 = 4242;

/// A running `tests/fakes/zenodo_server.py`, killed on drop.
pub struct FakeZenodo {
    server: FakeServer,
}

derefs_to_fake_server!(FakeZenodo);

impl FakeZenodo {
    pub fn start(extra: &[&str]) -> FakeZenodo {
        let record = RECORD.to_string();
        FakeZenodo {
            server: FakeServer::start(
                "zenodo_server.py",
                &[&["--token", TOKEN, "--record", &record], extra].concat(),
            ),
        }
    }

    /// The `api=` value.
    pub fn api(&self) -> String {
        format!("{}/api", self.url())
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
}

/// Changes made through the fake's API as the record's owner would (the
/// token's user), for tests that watch a remote follow them.
impl FakeZenodo {
    /// A new version of [`RECORD`]: its draft's id.
    pub fn new_version(&self) -> u64 {
        let body = self.as_owner("POST", &format!("/api/records/{RECORD}/versions"));
        let next: serde_json::Value = serde_json::from_str(&body).unwrap();
        next["id"].as_str().unwrap().parse().unwrap()
    }

    /// Carries the published files into draft `id` (files-import).
    pub fn import_files(&self, id: u64) {
        self.as_owner(
            "POST",
            &format!("/api/records/{id}/draft/actions/files-import"),
        );
    }

    /// Deletes file `name` from draft `id`.
    pub fn delete_draft_file(&self, id: u64, name: &str) {
        self.as_owner("DELETE", &format!("/api/records/{id}/draft/files/{name}"));
    }

    /// A request with the owner's token; the body of its answer, which must
    /// be a success.
    fn as_owner(&self, method: &str, path: &str) -> String {
        let auth = format!("Bearer {TOKEN}");
        let (status, _, body) = self.http(method, path, b"", &[("Authorization", &auth)]);
        assert!(status < 300, "{method} {path}: {status} {body}");
        body
    }
}
