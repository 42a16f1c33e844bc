//! The fake Figshare server for tests: start, ask, stop.

use super::fake::{derefs_to_fake_server, FakeServer};

pub const TOKEN: &str = "fake-figshare-token-0123456789";
/// The article every fake starts with.
pub const ARTICLE: u64 = 4242;

/// A running `tests/fakes/figshare_server.py`, killed on drop.
pub struct FakeFigshare {
    server: FakeServer,
}

derefs_to_fake_server!(FakeFigshare);

impl FakeFigshare {
    pub fn start(extra: &[&str]) -> FakeFigshare {
        let article = ARTICLE.to_string();
        FakeFigshare {
            server: FakeServer::start(
                "figshare_server.py",
                &[&["--token", TOKEN, "--article", &article], extra].concat(),
            ),
        }
    }

    /// The `api=` value.
    pub fn api(&self) -> String {
        format!("{}/v2", self.url())
    }

    /// The web host (browser paths such as /ndownloader/files/ID).
    pub fn web(&self) -> String {
        self.url()
    }

    /// A processed file `name` in `article` (test-only endpoint), with the
    /// MD5 its uploader claimed. Its id.
    pub fn add_file(&self, article: u64, name: &str, data: &[u8], supplied_md5: &str) -> u64 {
        let (status, _, body) = self.http(
            "POST",
            &format!("/_fake/file?article={article}&name={name}&supplied_md5={supplied_md5}"),
            data,
            &[],
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
            .as_u64()
            .unwrap()
    }

    /// Deletes file `id` of `article` through the API, with the token.
    pub fn delete_file(&self, article: u64, id: u64) {
        let auth = format!("token {TOKEN}");
        let (status, _, body) = self.http(
            "DELETE",
            &format!("/v2/account/articles/{article}/files/{id}"),
            b"",
            &[("Authorization", &auth)],
        );
        assert_eq!(status, 204, "{body}");
    }

    pub fn publish(&self) {
        self.admin("POST", &format!("publish?article={ARTICLE}"));
    }

    /// (name, id, status) of the article's current files.
    pub fn files(&self) -> Vec<(String, u64, String)> {
        let state = self.state();
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
