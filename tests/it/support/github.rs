//! The fake GitHub (Releases API) for tests: start, ask, stop.

use super::fake::{derefs_to_fake_server, FakeServer};

pub const GH_TOKEN: &str = "ghp_fake0123456789abcdef";
pub const GH_REPO: &str = "annexa/test";

/// A running `tests/fakes/github_server.py`, killed on drop.
pub struct FakeGithub {
    server: FakeServer,
}

derefs_to_fake_server!(FakeGithub);

impl FakeGithub {
    /// Starts the fake with the repository [`GH_REPO`] (no releases) and
    /// `extra` arguments (e.g. `--release annexa/test:v1:draft`).
    pub fn start(extra: &[&str]) -> FakeGithub {
        FakeGithub {
            server: FakeServer::start(
                "github_server.py",
                &[&["--token", GH_TOKEN, "--repo", GH_REPO], extra].concat(),
            ),
        }
    }

    /// The `api=` of a remote on this fake (also its web host).
    pub fn api(&self) -> String {
        self.url()
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
        let auth = format!("Bearer {GH_TOKEN}");
        let (status, head, body) = self.http(
            "DELETE",
            &format!("/repos/{GH_REPO}/releases/assets/{id}"),
            b"",
            &[("Authorization", &auth)],
        );
        assert_eq!(status, 204, "{head}\r\n\r\n{body}");
    }

    pub fn counts(&self) -> serde_json::Value {
        self.admin("GET", "counts")
    }

    /// Names of the assets of release `tag` of [`GH_REPO`].
    pub fn asset_names(&self, tag: &str) -> Vec<String> {
        let state = self.state();
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
