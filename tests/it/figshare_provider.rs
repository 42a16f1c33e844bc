//! The Figshare provider against the fake, driven directly: paging of the
//! article's listing, the fake's paging rules, and a store that finds a file
//! already there.

use crate::support::annex as support_annex;
use crate::support::common;
use crate::support::figshare as support_figshare;

use annexa::providers;
use common::pseudo_random;
use support_annex::{sha256e_key, MemAnnex};
use support_figshare::{FakeFigshare, ARTICLE, TOKEN};

#[test]
fn the_fake_pages_like_figshare() {
    let fake = FakeFigshare::start(&[]);
    let auth = format!("token {TOKEN}");
    let h = [("Authorization", auth.as_str())];
    let path = format!("/v2/account/articles/{ARTICLE}/files");
    let (status, _, body) = fake.http("GET", &format!("{path}?page=1&limit=5"), b"", &h);
    assert_eq!(status, 422, "{body}");
    let (status, _, body) = fake.http("GET", &path, b"", &[("Authorization", "token wrong")]);
    assert_eq!(status, 401, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["message"].is_string() && v["code"].is_string(), "{body}");
    let (status, _, body) = fake.http("GET", "/v2/account/articles/999/files", b"", &h);
    assert_eq!(status, 404, "{body}");
}

#[test]
fn listings_are_read_page_by_page() {
    // The server gives at most 3 files a page, whatever is asked.
    let fake = FakeFigshare::start(&["--max-page", "3"]);
    std::env::set_var("FIGSHARE_API_KEY", TOKEN);
    let tmp = tempfile::tempdir().unwrap();
    let api = fake.api();
    let article = ARTICLE.to_string();
    let config = [
        ("provider", "figshare"),
        ("api", api.as_str()),
        ("article", article.as_str()),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let kind = providers::find_kind("figshare").unwrap();
        let annex = MemAnnex::with(&config);
        kind.initremote(&annex).await.unwrap();
        let p = kind.prepare(&annex).await.unwrap();
        let mut keys = Vec::new();
        for i in 0..8u64 {
            let data = pseudo_random(1000 + i as usize, i);
            let key = sha256e_key(&data, ".bin");
            let file = tmp.path().join(format!("f{i}"));
            std::fs::write(&file, &data).unwrap();
            p.store(&key, &file, &annex).await.unwrap();
            keys.push((key, file, data));
        }
        // Without the per-key state, every key is found in the listing.
        let fresh = MemAnnex::with(&config);
        let p2 = kind.prepare(&fresh).await.unwrap();
        for (key, file, data) in &keys {
            assert!(p2.check_present(key, &fresh).await.unwrap(), "{key}");
            let dest = tmp.path().join("got");
            let _ = std::fs::remove_file(&dest);
            p2.retrieve(key, &dest, &fresh).await.unwrap();
            assert_eq!(&std::fs::read(&dest).unwrap(), data);
            // Stored again without state: found, not uploaded twice.
            p2.store(key, file, &fresh).await.unwrap();
        }
        assert_eq!(fake.files().len(), keys.len(), "{:?}", fake.files());
        let pages = fake
            .api_log()
            .iter()
            .filter(|r| r["query"].as_str().unwrap_or("").contains("page=3"))
            .count();
        assert!(pages > 0, "the listing read a third page");
    });
}
