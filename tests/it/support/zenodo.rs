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
