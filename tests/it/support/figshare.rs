//! The fake Figshare server for tests: start, ask, stop.

use super::fake::FakeProcess;

pub const TOKEN: &str = "fake-figshare-token-0123456789";
/// The article every fake starts with.
pub const ARTICLE: u64 = 4242;

/// A running `tests/fakes/figshare_server.py`, killed on drop.
pub struct FakeFigshare {
    _process: FakeProcess,
    pub api_port: u16,
}

impl FakeFigshare {
    pub fn start(extra: &[&str]) -> FakeFigshare {
        let process = FakeProcess::start(
            "figshare_server.py",
            &[
                &["--token", TOKEN, "--article", &ARTICLE.to_string()],
                extra,
            ]
            .concat(),
        );
        FakeFigshare {
            api_port: process.ports[0],
            _process: process,
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
