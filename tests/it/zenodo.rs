//! The Zenodo provider against the fake InvenioRDM, driven directly: the
//! fake's own rules, Zenodo's life cycle (draft, publish, new version),
//! REMOVE of published content refused, the per-record limits, rate
//! limits, restricted files, concept ids and versions, URL claims, and a
//! redirect that names another host.

use crate::support::annex as support_annex;
use crate::support::common;
use crate::support::zenodo as support_zenodo;

use std::sync::Arc;

use crate::support::annex::annex_key;
use annexa::providers::{self, ImportSink, ImportableFile, Provider, ProviderError, UrlCheck};
use common::pseudo_random;
use support_annex::{sha256e_key, MemAnnex};
use support_zenodo::{FakeZenodo, RECORD, TOKEN};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn config(fake: &FakeZenodo, record: &str) -> Vec<(String, String)> {
    vec![
        ("provider".into(), "zenodo".into()),
        ("api".into(), fake.api()),
        ("record".into(), record.into()),
    ]
}

fn annex(config: &[(String, String)]) -> MemAnnex {
    let pairs: Vec<(&str, &str)> = config
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    MemAnnex::with(&pairs)
}

async fn prepared(annex: &MemAnnex) -> Arc<dyn Provider> {
    let kind = providers::find_kind("zenodo").unwrap();
    kind.initremote(annex).await.expect("initremote");
    kind.prepare(annex).await.expect("prepare")
}

/// Collects a listing.
#[derive(Default)]
struct Listed(Vec<ImportableFile>, Vec<String>);

impl ImportSink for Listed {
    fn found(&mut self, file: ImportableFile) -> providers::Result<()> {
        self.0.push(file);
        Ok(())
    }
    fn skipped(&mut self, name: &str, _why: &str) {
        self.1.push(name.into());
    }
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

#[test]
fn the_fake_answers_as_invenio_rdm() {
    let fake = FakeZenodo::start(&["--max-files", "2"]);
    let auth = format!("Bearer {TOKEN}");
    let owner = [("Authorization", auth.as_str())];
    let files = format!("/api/records/{RECORD}/draft/files");
    // A draft is its owner's only; a bad token is 401 with a message.
    let (status, _, _) = fake.http("GET", &files, b"", &[]);
    assert_eq!(status, 403);
    let (status, _, body) = fake.http("GET", &files, b"", &[("Authorization", "Bearer x")]);
    assert_eq!(status, 401, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["message"].is_string() && v["status"] == 401, "{body}");
    // An unpublished record is not found as a record.
    let (status, _, _) = fake.http("GET", &format!("/api/records/{RECORD}"), b"", &owner);
    assert_eq!(status, 404);
    // init -> content -> commit gives md5:<hex>; the file-count limit is 400.
    let (status, _, body) = fake.http("POST", &files, br#"[{"key":"a"},{"key":"b"}]"#, &owner);
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = fake.http("POST", &files, br#"[{"key":"c"}]"#, &owner);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("more than 2 files"), "{body}");
    let (status, _, _) = fake.http("PUT", &format!("{files}/a/content"), b"hello", &owner);
    assert_eq!(status, 200);
    let (status, _, body) = fake.http("POST", &format!("{files}/a/commit"), b"", &owner);
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!("\"md5:{}\"", md5_hex(b"hello"))),
        "{body}"
    );
}

/// Keys in a draft; publish; a REMOVE of published content is refused
/// with a clear message; the next store goes to Zenodo's new-version draft
/// (previous files linked in), which a fresh process finds without making
/// another; publish makes version 2.
#[test]
fn a_published_record_moves_to_its_new_version_and_keeps_its_files() {
    let fake = FakeZenodo::start(&[]);
    std::env::set_var("ZENODO_TOKEN", TOKEN);
    let tmp = tempfile::tempdir().unwrap();
    let config = config(&fake, &RECORD.to_string());
    runtime().block_on(async {
        let a = annex(&config);
        let p = prepared(&a).await;
        let one = pseudo_random(3000, 1);
        let key1 = sha256e_key(&one, ".bin");
        let f1 = tmp.path().join("one");
        std::fs::write(&f1, &one).unwrap();
        p.store(&annex_key(&key1), &f1, &a).await.unwrap();
        assert!(p.check_present(&annex_key(&key1), &a).await.unwrap());
        fake.publish();

        let fresh = annex(&config);
        let p = prepared(&fresh).await;
        assert!(p.check_present(&annex_key(&key1), &fresh).await.unwrap());
        let e = p.remove(&annex_key(&key1), &fresh).await.unwrap_err();
        assert!(matches!(e, ProviderError::Conflict { .. }), "{e:?}");
        let text = providers::error_chain_text(&e);
        assert!(
            text.contains("published version 1") && text.contains("never removes"),
            "{text}"
        );
        // The new version: made once, with version 1's file linked in.
        let two = pseudo_random(2000, 2);
        let key2 = sha256e_key(&two, ".bin");
        let f2 = tmp.path().join("two");
        std::fs::write(&f2, &two).unwrap();
        p.store(&annex_key(&key2), &f2, &fresh).await.unwrap();
        let state = fake.state();
        let drafts: Vec<&String> = state
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, r)| r["published"] == false)
            .map(|(id, _)| id)
            .collect();
        assert_eq!(drafts.len(), 1, "{state}");
        let files: Vec<&str> = state[drafts[0]]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap())
            .collect();
        assert_eq!(files, [key1.as_str(), key2.as_str()], "{state}");
        // Another process finds that draft (and makes no other).
        let again = annex(&config);
        let p = prepared(&again).await;
        let dest = tmp.path().join("got");
        p.retrieve(&annex_key(&key2), &dest, &again).await.unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), two);
        let posts = fake
            .api_log()
            .iter()
            .filter(|r| r["method"] == "POST" && r["path"].as_str().unwrap().ends_with("/versions"))
            .count();
        assert_eq!(posts, 1, "one new version, made by a write");
        fake.publish();
        let state = fake.state();
        let v2 = state
            .as_object()
            .unwrap()
            .values()
            .find(|r| r["index"] == 2)
            .unwrap();
        assert_eq!(v2["published"], true, "{state}");
    });
}

/// Reads never change the record: a `get` with a token on a published
/// record with no draft makes no new version.
#[test]
fn reads_make_no_draft() {
    let fake = FakeZenodo::start(&[]);
    std::env::set_var("ZENODO_TOKEN", TOKEN);
    let data = pseudo_random(500, 3);
    let key = sha256e_key(&data, ".bin");
    fake.seed(RECORD, &key, &data);
    fake.publish();
    let config = config(&fake, &RECORD.to_string());
    runtime().block_on(async {
        let a = annex(&config);
        let p = prepared(&a).await;
        assert!(p.check_present(&annex_key(&key), &a).await.unwrap());
        let dest = tempfile::tempdir().unwrap();
        p.retrieve(&annex_key(&key), &dest.path().join("x"), &a)
            .await
            .unwrap();
    });
    let posts = fake
        .api_log()
        .iter()
        .filter(|r| r["method"] != "GET")
        .count();
    assert_eq!(posts, 0, "{:?}", fake.api_log());
}

/// The 101st file (here the 3rd) and a record over its quota are refused
/// with what to do, and nothing half-made stays presented as stored.
#[test]
fn the_limits_are_said_clearly() {
    let fake = FakeZenodo::start(&["--max-files", "2", "--quota", "5000"]);
    std::env::set_var("ZENODO_TOKEN", TOKEN);
    let tmp = tempfile::tempdir().unwrap();
    let config = config(&fake, &RECORD.to_string());
    runtime().block_on(async {
        let a = annex(&config);
        let p = prepared(&a).await;
        let mut keys = Vec::new();
        for (i, len) in [(0u64, 1000usize), (1, 1000), (2, 1000)] {
            let data = pseudo_random(len, 10 + i);
            let key = sha256e_key(&data, ".bin");
            let file = tmp.path().join(format!("f{i}"));
            std::fs::write(&file, &data).unwrap();
            keys.push((key, file));
        }
        p.store(&annex_key(&keys[0].0), &keys[0].1, &a)
            .await
            .unwrap();
        p.store(&annex_key(&keys[1].0), &keys[1].1, &a)
            .await
            .unwrap();
        let e = p
            .store(&annex_key(&keys[2].0), &keys[2].1, &a)
            .await
            .unwrap_err();
        let text = providers::error_chain_text(&e);
        assert!(
            text.contains("at most 100 files") && text.contains("chunk="),
            "{text}"
        );
        assert!(!p.check_present(&annex_key(&keys[2].0), &a).await.unwrap());
        // Quota: replace a file by one too large for what is left.
        let big = pseudo_random(4500, 20);
        let big_file = tmp.path().join("big");
        std::fs::write(&big_file, &big).unwrap();
        let e = p
            .store(&annex_key(&sha256e_key(&big, ".bin")), &big_file, &a)
            .await
            .unwrap_err();
        let text = providers::error_chain_text(&e);
        assert!(text.contains("50 GB") || text.contains("at most"), "{text}");
    });
}

/// A concept id imports the latest version, a version id that version,
/// `version=K` Zenodo's K-th; keys come from the published MD5s; rate
/// limits (429 with Retry-After) are waited out; a redirect naming another
/// host chooses nothing.
#[test]
fn versions_concepts_and_rate_limits() {
    let fake = FakeZenodo::start(&[]);
    std::env::remove_var("ZENODO_TOKEN");
    let v1 = [
        ("sub-01%2Fanat%2Fsub-01_T1w.nii.gz", pseudo_random(4000, 5)),
        ("README", b"v1\n".to_vec()),
    ];
    for (name, data) in &v1 {
        fake.seed(RECORD, name, data);
    }
    let published = fake.admin("POST", &format!("publish?record={RECORD}"));
    let concept = published["parent"].as_u64().unwrap().to_string();
    // Version 2: README changed, through the API as its owner would.
    let next_id = fake.new_version();
    fake.import_files(next_id);
    fake.delete_draft_file(next_id, "README");
    fake.seed(next_id, "README", b"v2\n");
    fake.publish();
    fake.admin("POST", "config?rate_limit=4&lying_redirect=1");
    fake.admin("POST", "reset-log");

    let list = |record: &str, version: Option<&str>| {
        let mut config = config(&fake, record);
        if let Some(v) = version {
            config.push(("version".into(), v.into()));
        }
        runtime().block_on(async {
            let a = annex(&config);
            let p = prepared(&a).await;
            let mut listed = Listed::default();
            p.import()
                .unwrap()
                .list_importable(&mut listed, &a)
                .await
                .unwrap();
            listed
        })
    };
    let readme_key = |data: &[u8]| format!("md5:{}", md5_hex(data));
    let readme = |l: &Listed| {
        let f = l.0.iter().find(|f| f.path == "README").unwrap();
        format!("md5:{}", f.id.checksum.as_ref().unwrap().hex)
    };
    let latest = list(&concept, None);
    assert_eq!(readme(&latest), readme_key(b"v2\n"));
    assert!(latest
        .0
        .iter()
        .any(|f| f.path == "sub-01/anat/sub-01_T1w.nii.gz"));
    assert_eq!(
        readme(&list(&RECORD.to_string(), None)),
        readme_key(b"v1\n")
    );
    assert_eq!(readme(&list(&concept, Some("1"))), readme_key(b"v1\n"));
    let log = fake.api_log();
    assert!(
        log.iter().any(|r| r["status"] == 429),
        "the rate limit was hit"
    );
    // Anonymous reads send no credential at all.
    assert!(log.iter().all(|r| !r["authorization"].as_bool().unwrap()));
    // The URL claims: a record URL is every file, a file URL one.
    runtime().block_on(async {
        let a = annex(&config(&fake, &concept));
        let p = prepared(&a).await;
        let urls = p.urls().unwrap();
        let record_url = format!("{}/records/{concept}", fake.url());
        assert!(urls.claims_url(&record_url));
        assert!(!urls.claims_url("https://example.org/records/1"));
        match urls.check_url(&record_url, &a).await.unwrap() {
            UrlCheck::Multi(entries) => assert_eq!(entries.len(), 2),
            other => panic!("{other:?}"),
        }
        let file_url = format!("{}/records/{next_id}/files/README/content", fake.api());
        match urls.check_url(&file_url, &a).await.unwrap() {
            UrlCheck::Contents { size, .. } => assert_eq!(size, Some(3)),
            other => panic!("{other:?}"),
        }
        // A URL key is fetched through its recorded URL.
        let key = "URL--http&c%%127.0.0.1%README";
        a.urls
            .lock()
            .unwrap()
            .insert(key.into(), vec![file_url.clone()]);
        let dest = tempfile::tempdir().unwrap();
        p.retrieve(&annex_key(key), &dest.path().join("r"), &a)
            .await
            .unwrap();
        assert_eq!(std::fs::read(dest.path().join("r")).unwrap(), b"v2\n");
    });
}

/// Restricted files need a token: without one the error asks for it; with
/// the owner's they import.
#[test]
fn restricted_files_need_a_token() {
    let fake = FakeZenodo::start(&[]);
    fake.seed(RECORD, "secret.csv", b"a,b\n");
    fake.publish();
    fake.admin("POST", &format!("restrict?record={RECORD}"));
    let config = config(&fake, &RECORD.to_string());
    std::env::remove_var("ZENODO_TOKEN");
    runtime().block_on(async {
        let a = annex(&config);
        let p = prepared(&a).await;
        let e = p
            .import()
            .unwrap()
            .list_importable(&mut Listed::default(), &a)
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::MissingCredentials(_)), "{e:?}");
        assert!(e.to_string().contains("ZENODO_TOKEN"), "{e}");
    });
    std::env::set_var("ZENODO_TOKEN", TOKEN);
    runtime().block_on(async {
        let a = annex(&config);
        let p = prepared(&a).await;
        let mut listed = Listed::default();
        p.import()
            .unwrap()
            .list_importable(&mut listed, &a)
            .await
            .unwrap();
        assert_eq!(listed.0.len(), 1);
    });
}

/// A stalled or endless files listing ends in bounded time; a versions
/// listing that repeats pages is stopped by the shared engine.
#[test]
fn broken_listings_end() {
    let fake = FakeZenodo::start(&["--max-page", "1"]);
    std::env::set_var("ANNEXA_TIMEOUT", "2");
    std::env::remove_var("ZENODO_TOKEN");
    fake.seed(RECORD, "a", b"1");
    fake.publish();
    // Versions 2 and 3.
    for _ in 0..2 {
        let id = fake.new_version();
        fake.seed(id, "a", b"2");
        fake.publish();
    }
    let run = |version: Option<&str>| {
        let mut config = config(&fake, &RECORD.to_string());
        if let Some(v) = version {
            config.push(("version".into(), v.into()));
        }
        runtime().block_on(async {
            let a = annex(&config);
            let p = providers::find_kind("zenodo")
                .unwrap()
                .prepare(&a)
                .await
                .unwrap();
            let started = std::time::Instant::now();
            let r = p
                .import()
                .unwrap()
                .list_importable(&mut Listed::default(), &a)
                .await;
            (r, started.elapsed())
        })
    };
    // Pages of one version: version 3 is on page 3.
    assert!(run(Some("3")).0.is_ok());
    for (fault, version, want) in [
        ("stall", None, "stalled"),
        ("huge", None, "longer than"),
        ("repeat", Some("3"), "listing stopped"),
        ("ignore_offset", Some("3"), "listing stopped"),
    ] {
        fake.admin("POST", &format!("config?list_fault={fault}"));
        let (r, took) = run(version);
        let e = r.expect_err(fault);
        let text = providers::error_chain_text(&e);
        assert!(text.contains(want), "{fault}: {text}");
        assert!(
            took < std::time::Duration::from_secs(20),
            "{fault}: {took:?}"
        );
    }
}

/// `annexa ls` and `get` with BIDS filters on a record named by its URL,
/// anonymously: the cache imports the listing, `get` fetches only what
/// the filters select and writes real files.
#[test]
fn ls_and_get_select_from_a_record() {
    let fake = FakeZenodo::start(&[]);
    let t1 = pseudo_random(5000, 40);
    let bold = pseudo_random(7000, 41);
    for (path, data) in [
        (
            "dataset_description.json",
            br#"{"Name": "x", "BIDSVersion": "1.8.0"}"#.to_vec(),
        ),
        ("sub-01/anat/sub-01_T1w.nii.gz", t1.clone()),
        ("sub-01/func/sub-01_task-rest_bold.nii.gz", bold.clone()),
        ("sub-02/anat/sub-02_T1w.nii.gz", pseudo_random(3000, 42)),
    ] {
        // As annexa's export names a tree on Zenodo.
        fake.seed(RECORD, &path.replace('/', "%2F"), &data);
    }
    fake.publish();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let source = format!("{}/records/{RECORD}", fake.api());
    let annexa = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_annexa"))
            .arg("--cache")
            .arg(&cache)
            .args(args)
            .env("PATH", common::test_path())
            .env_remove("ZENODO_TOKEN")
            .env("GIT_AUTHOR_NAME", "annexa tests")
            .env("GIT_AUTHOR_EMAIL", "annexa@localhost")
            .env("GIT_COMMITTER_NAME", "annexa tests")
            .env("GIT_COMMITTER_EMAIL", "annexa@localhost")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "annexa {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listed = annexa(&["ls", &source, "--sub", "01", "--suffix", "T1w"]);
    assert!(listed.contains("sub-01/anat/sub-01_T1w.nii.gz"), "{listed}");
    assert!(!listed.contains("sub-02"), "{listed}");
    assert!(!listed.contains("bold"), "{listed}");
    let out = tmp.path().join("out");
    annexa(&[
        "get",
        &source,
        "--to",
        out.to_str().unwrap(),
        "--sub",
        "01",
        "--suffix",
        "T1w",
    ]);
    assert_eq!(
        std::fs::read(out.join("sub-01/anat/sub-01_T1w.nii.gz")).unwrap(),
        t1
    );
    assert!(!out.join("sub-01/func").exists());
    assert!(!out.join("sub-02").exists());
}
