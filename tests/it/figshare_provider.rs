//! The Figshare provider against the fake, driven directly: paging of the
//! article's listing, the fake's paging rules, and a store that finds a file
//! already there.

use crate::support::annex as support_annex;
use crate::support::common;
use crate::support::figshare as support_figshare;

use crate::support::annex::annex_key;
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
            p.store(&annex_key(&key), &file, &annex).await.unwrap();
            keys.push((key, file, data));
        }
        // Without the per-key state, every key is found in the listing.
        let fresh = MemAnnex::with(&config);
        let p2 = kind.prepare(&fresh).await.unwrap();
        for (key, file, data) in &keys {
            assert!(
                p2.check_present(&annex_key(key), &fresh).await.unwrap(),
                "{key}"
            );
            let dest = tmp.path().join("got");
            let _ = std::fs::remove_file(&dest);
            p2.retrieve(&annex_key(key), &dest, &fresh).await.unwrap();
            assert_eq!(&std::fs::read(&dest).unwrap(), data);
            // Stored again without state: found, not uploaded twice.
            p2.store(&annex_key(key), file, &fresh).await.unwrap();
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

/// A provider on the fake's `article`, initialised with the token.
fn provider_on(
    fake: &FakeFigshare,
    rt: &tokio::runtime::Runtime,
    article: u64,
) -> (std::sync::Arc<dyn providers::Provider>, MemAnnex) {
    provider_with(fake, rt, article, &[])
}

/// [`provider_on`] with more settings.
fn provider_with(
    fake: &FakeFigshare,
    rt: &tokio::runtime::Runtime,
    article: u64,
    extra: &[(&str, &str)],
) -> (std::sync::Arc<dyn providers::Provider>, MemAnnex) {
    std::env::set_var("FIGSHARE_API_KEY", TOKEN);
    let api = fake.api();
    let article = article.to_string();
    let mut config = vec![
        ("provider", "figshare"),
        ("api", api.as_str()),
        ("article", article.as_str()),
    ];
    config.extend_from_slice(extra);
    rt.block_on(async {
        let kind = providers::find_kind("figshare").unwrap();
        let annex = MemAnnex::with(&config);
        kind.initremote(&annex).await.unwrap();
        (kind.prepare(&annex).await.unwrap(), annex)
    })
}

fn provider(
    fake: &FakeFigshare,
    rt: &tokio::runtime::Runtime,
) -> (std::sync::Arc<dyn providers::Provider>, MemAnnex) {
    provider_on(fake, rt, ARTICLE)
}

/// Counts what a listing hands over.
#[derive(Default)]
struct Count(usize);

impl providers::ImportSink for Count {
    fn found(&mut self, _file: providers::ImportableFile) -> providers::Result<()> {
        self.0 += 1;
        Ok(())
    }
    fn skipped(&mut self, name: &str, why: &str) {
        panic!("{name} skipped: {why}");
    }
}

/// Figshare refuses offsets past 1,000 (422), so pages of 1,000 reach
/// 2,000 files: the rest of a larger article comes from the article's own
/// file list, and no page past the limit is asked for.
#[test]
fn an_article_of_2500_files_lists_completely() {
    let fake = FakeFigshare::start(&[]);
    fake.admin("POST", &format!("files?article={ARTICLE}&count=2500"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (p, annex) = provider(&fake, &rt);
    let mut count = Count::default();
    rt.block_on(p.import().unwrap().list_importable(&mut count, &annex))
        .unwrap();
    assert_eq!(count.0, 2500);
    let log = fake.api_log();
    assert!(log.iter().all(|r| r["status"] != 422), "{log:?}");
    assert!(
        log.iter()
            .any(|r| r["path"] == format!("/account/articles/{ARTICLE}")),
        "the article's own list was not read"
    );
}

/// An upload whose bytes do not match the MD5 it named ends in
/// `ic_failure`: reported at once, saying so, and not left behind.
#[test]
fn an_ic_failure_upload_fails_within_seconds() {
    let fake = FakeFigshare::start(&["--processing-delay", "0.3"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (p, annex) = provider(&fake, &rt);
    fake.admin("POST", "config?corrupt_next=1");
    let tmp = tempfile::tempdir().unwrap();
    let data = pseudo_random(5000, 3);
    let key = sha256e_key(&data, ".bin");
    let file = tmp.path().join("f");
    std::fs::write(&file, &data).unwrap();
    let started = std::time::Instant::now();
    let err = rt
        .block_on(p.store(&annex_key(&key), &file, &annex))
        .unwrap_err();
    let text = providers::error_chain_text(&err);
    assert!(
        started.elapsed().as_secs() < 10,
        "took {:?}",
        started.elapsed()
    );
    assert!(text.contains("checksum did not match"), "{text}");
    assert!(fake.files().is_empty(), "{:?}", fake.files());
    // The next attempt stores it.
    rt.block_on(p.store(&annex_key(&key), &file, &annex))
        .unwrap();
    assert_eq!(fake.files().len(), 1);
}

/// Where the API's download endpoint serves published files only ("Public
/// File Download"), private files come through the documented route, the
/// downloader with `?token=`; the token never reaches storage.
#[test]
fn private_files_come_through_the_documented_route() {
    let fake = FakeFigshare::start(&[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (p, annex) = provider(&fake, &rt);
    let tmp = tempfile::tempdir().unwrap();
    let data = pseudo_random(7000, 4);
    let key = sha256e_key(&data, ".bin");
    let file = tmp.path().join("f");
    std::fs::write(&file, &data).unwrap();
    rt.block_on(p.store(&annex_key(&key), &file, &annex))
        .unwrap();
    // The API endpoint first, where it works.
    let dest = tmp.path().join("got1");
    rt.block_on(p.retrieve(&annex_key(&key), &dest, &annex))
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    fake.admin("POST", "config?private_api_download=0");
    let dest = tmp.path().join("got2");
    rt.block_on(p.retrieve(&annex_key(&key), &dest, &annex))
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    let log = fake.api_log();
    assert!(
        log.iter().any(|r| r["path"]
            .as_str()
            .unwrap()
            .starts_with("/ndownloader/files/")
            && r["status"] == 302),
        "{log:?}"
    );
    let (_, violations) = fake.storage_log();
    assert!(violations.is_empty(), "{violations:?}");
}

/// A token whose account does not own the article: initremote works,
/// saying the remote reads published files only, and reading works.
#[test]
fn an_article_of_another_account_is_read_only() {
    let fake = FakeFigshare::start(&[]);
    let other = 777u64;
    fake.admin("POST", &format!("article?id={other}&owner=someone-else"));
    let (status, _, body) = fake.http(
        "POST",
        &format!("/_fake/file?article={other}&name=a.txt"),
        b"hello",
        &[],
    );
    assert!(status < 300, "{body}");
    fake.admin("POST", &format!("publish?article={other}"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (p, annex) = provider_on(&fake, &rt, other);
    let said = annex.messages.lock().unwrap().join("\n");
    assert!(said.contains("does not own article 777"), "{said}");
    let mut count = Count::default();
    rt.block_on(p.import().unwrap().list_importable(&mut count, &annex))
        .unwrap();
    assert_eq!(count.0, 1);
}

/// A file still being checked when the wait runs out is left for Figshare
/// to finish, never deleted; the next store of that key waits for it and
/// keeps it (no second upload).
#[test]
fn a_file_still_being_checked_is_kept_not_deleted() {
    let fake = FakeFigshare::start(&["--processing-delay", "1.5"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (impatient, annex) = provider_with(&fake, &rt, ARTICLE, &[("processwait", "0")]);
    let tmp = tempfile::tempdir().unwrap();
    let data = pseudo_random(4000, 5);
    let key = sha256e_key(&data, ".bin");
    let file = tmp.path().join("f");
    std::fs::write(&file, &data).unwrap();
    let err = rt
        .block_on(impatient.store(&annex_key(&key), &file, &annex))
        .unwrap_err();
    let text = providers::error_chain_text(&err);
    assert!(text.contains("left to finish"), "{text}");
    let files = fake.files();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_ne!(files[0].2, "available");
    let (patient, annex) = provider_with(&fake, &rt, ARTICLE, &[("processwait", "30")]);
    rt.block_on(patient.store(&annex_key(&key), &file, &annex))
        .unwrap();
    let after = fake.files();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!((after[0].1, after[0].2.as_str()), (files[0].1, "available"));
}
