//! The Dataverse provider driven directly (no git-annex), against the fake
//! Dataverse server: the behaviours issue 4 asks to be shown.

use crate::support::annex as support_annex;
use crate::support::common;
use crate::support::dataverse as support_dataverse;

use std::path::Path;
use std::sync::Arc;

use crate::support::annex::{annex_key, export_path, exported};
use annexa::providers::{
    error_chain_text, find_kind, Credentials, Provider, ProviderError, UrlCheck,
};
use common::pseudo_random;
use support_annex::*;
use support_dataverse::*;

fn no_env_token() {
    // A developer's own token must not leak into these tests.
    std::env::remove_var("DATAVERSE_API_KEY");
    std::env::remove_var("ANNEXA_MAX_RATE");
}

fn annex_for(fake: &FakeDataverse, extra: &[(&str, &str)], token: Option<&str>) -> MemAnnex {
    no_env_token();
    let url = fake.url();
    let mut config = vec![
        ("provider", "dataverse"),
        ("url", url.as_str()),
        ("doi", PID),
    ];
    config.extend_from_slice(extra);
    let annex = MemAnnex::with(&config);
    if let Some(t) = token {
        annex.creds.lock().unwrap().insert(
            "dataverse".into(),
            Credentials {
                user: "api-token".into(),
                secret: t.into(),
            },
        );
    }
    annex
}

async fn provider(annex: &MemAnnex) -> Arc<dyn Provider> {
    find_kind("dataverse")
        .expect("dataverse is registered")
        .prepare(annex)
        .await
        .expect("prepare")
}

fn write(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_round_trip_idempotent_store_and_remove() {
    let fake = FakeDataverse::start(&[]);
    let annex = annex_for(&fake, &[("rootpath", "annex objects")], Some(TOKEN));
    let p = provider(&annex).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = pseudo_random(300_000, 1);
    let key = sha256e_key(&data, ".nii.gz");
    let src = write(tmp.path(), "src", &data);

    assert!(!p.check_present(&annex_key(&key), &annex).await.unwrap());
    p.store(&annex_key(&key), &src, &annex).await.unwrap();
    p.store(&annex_key(&key), &src, &annex).await.unwrap();
    // And once more without the remembered id: still no duplicate.
    annex.state.lock().unwrap().clear();
    p.store(&annex_key(&key), &src, &annex).await.unwrap();
    let files = fake.latest_files();
    assert_eq!(files.len(), 1, "one file for one key: {files:?}");
    assert_eq!(files[0].0, key);
    assert!(files[0].1.starts_with("annex objects/"), "{files:?}");
    assert!(annex.state.lock().unwrap()[&key].starts_with("dv1 id="));
    assert!(p.check_present(&annex_key(&key), &annex).await.unwrap());
    assert_eq!(annex.progress.lock().unwrap().last(), Some(&300_000));

    let dest = tmp.path().join("dest");
    p.retrieve(&annex_key(&key), &dest, &annex).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);

    p.remove(&annex_key(&key), &annex).await.unwrap();
    assert!(!p.check_present(&annex_key(&key), &annex).await.unwrap());
    assert!(fake.latest_files().is_empty());
    p.remove(&annex_key(&key), &annex).await.unwrap();
    assert!(p
        .retrieve(&annex_key(&key), &tmp.path().join("again"), &annex)
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabular_files_round_trip_byte_for_byte() {
    // --force-ingest: the server converts CSV/TSV even when asked not to,
    // like installations that ignore tabIngest.
    let fake = FakeDataverse::start(&["--force-ingest"]);
    let annex = annex_for(&fake, &[], Some(TOKEN));
    let p = provider(&annex).await;
    let tmp = tempfile::tempdir().unwrap();
    let csv = b"subject,age,group\nsub-01,23,control\nsub-02,31,\"patient, mild\"\n".to_vec();
    let key = sha256e_key(&csv, ".csv");
    p.store(&annex_key(&key), &write(tmp.path(), "t.csv", &csv), &annex)
        .await
        .unwrap();
    let files = fake.latest_files();
    assert_eq!(files.len(), 1);
    assert!(
        files[0].0.ends_with(".tab"),
        "the fake ingested it: {files:?}"
    );
    // The stored form really differs from the upload.
    let state = fake.state();
    let stored = &state[PID]["versions"][0]["files"][0];
    assert_eq!(stored["tabular"], true);
    assert_ne!(stored["size"].as_u64(), Some(csv.len() as u64));

    assert!(p.check_present(&annex_key(&key), &annex).await.unwrap());
    let dest = tmp.path().join("back.csv");
    p.retrieve(&annex_key(&key), &dest, &annex).await.unwrap();
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        csv,
        "format=original returns the upload"
    );

    // Without the remembered id (another clone): found by its original name.
    annex.state.lock().unwrap().clear();
    let dest2 = tmp.path().join("back2.csv");
    p.retrieve(&annex_key(&key), &dest2, &annex).await.unwrap();
    assert_eq!(std::fs::read(&dest2).unwrap(), csv);

    // A table someone else uploaded with ingest, reached by URL.
    let tsv = b"a\tb\n1\tx y\n2\tz\n".to_vec();
    let (status, _, body) = fake.http(
        "POST",
        &format!("/_fake/ingest?persistentId={PID}&name=other.tsv&directoryLabel=tables"),
        &tsv,
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["data"]["files"][0]["dataFile"]["id"].as_u64().unwrap();
    let url = format!("{}/api/access/datafile/{id}", fake.url());
    let urls = p.urls().expect("dataverse claims URLs");
    assert!(urls.claims_url(&url));
    match urls.check_url(&url, &annex).await.unwrap() {
        UrlCheck::Contents { size, filename } => {
            assert_eq!(size, Some(tsv.len() as u64));
            assert_eq!(filename.as_deref(), Some("other.tsv"));
        }
        other => panic!("{other:?}"),
    }
    let ukey = "URL--dataverse-table";
    annex.urls.lock().unwrap().insert(ukey.into(), vec![url]);
    let dest3 = tmp.path().join("other.tsv");
    p.retrieve(&annex_key(ukey), &dest3, &annex).await.unwrap();
    assert_eq!(std::fs::read(&dest3).unwrap(), tsv);
    assert!(p.check_present(&annex_key(ukey), &annex).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_never_reaches_the_signed_url_host() {
    let fake = FakeDataverse::start(&[]);
    let annex = annex_for(&fake, &[], Some(TOKEN));
    let p = provider(&annex).await;
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..3 {
        let data = pseudo_random(50_000 + i, 10 + i as u64);
        let key = sha256e_key(&data, ".bin");
        p.store(&annex_key(&key), &write(tmp.path(), "s", &data), &annex)
            .await
            .unwrap();
        let dest = tmp.path().join(format!("d{i}"));
        // Resume from a partial file too: the Range request goes there.
        std::fs::write(&dest, &data[..1000]).unwrap();
        p.retrieve(&annex_key(&key), &dest, &annex).await.unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
    }
    let (requests, violations) = fake.storage_log();
    assert!(
        requests.len() >= 3,
        "downloads went through the storage host: {requests:?}"
    );
    assert!(
        violations.is_empty(),
        "token sent to storage: {violations:?}"
    );
    for r in &requests {
        let text = r["headers"].to_string();
        assert!(!text.contains(TOKEN) && !text.to_ascii_lowercase().contains("x-dataverse-key"));
    }
    // The detector itself works: a request with the token is recorded.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", fake.storage_port())).unwrap();
    use std::io::{Read, Write};
    s.write_all(format!("GET /s/1/stored HTTP/1.1\r\nHost: x\r\nX-Dataverse-key: {TOKEN}\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut sink = Vec::new();
    let _ = s.read_to_end(&mut sink);
    assert_eq!(fake.storage_log().1.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_published_key_fails_and_says_why() {
    let fake = FakeDataverse::start(&[]);
    let annex = annex_for(&fake, &[], Some(TOKEN));
    let p = provider(&annex).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = pseudo_random(20_000, 3);
    let key = sha256e_key(&data, ".txt");
    p.store(&annex_key(&key), &write(tmp.path(), "a", &data), &annex)
        .await
        .unwrap();
    fake.publish();
    let draft_data = pseudo_random(20_001, 4);
    let draft_key = sha256e_key(&draft_data, ".txt");
    p.store(
        &annex_key(&draft_key),
        &write(tmp.path(), "b", &draft_data),
        &annex,
    )
    .await
    .unwrap();

    let err = p.remove(&annex_key(&key), &annex).await.unwrap_err();
    let msg = error_chain_text(&err);
    assert!(matches!(err, ProviderError::Conflict { .. }), "{err:?}");
    assert!(
        msg.contains("published version 1.0") && msg.contains(PID) && msg.contains("downloadable"),
        "{msg}"
    );
    // Nothing was pretended: still present and retrievable, also for a
    // reader without any state.
    assert!(p.check_present(&annex_key(&key), &annex).await.unwrap());
    let fresh = annex_for(&fake, &[], Some(TOKEN));
    assert!(p.check_present(&annex_key(&key), &fresh).await.unwrap());
    p.retrieve(&annex_key(&key), &tmp.path().join("r"), &fresh)
        .await
        .unwrap();
    assert_eq!(std::fs::read(tmp.path().join("r")).unwrap(), data);

    // A key only in the draft is removed for real.
    p.remove(&annex_key(&draft_key), &annex).await.unwrap();
    assert!(!p
        .check_present(&annex_key(&draft_key), &annex)
        .await
        .unwrap());
    // Anonymous readers see the published key.
    let anon = annex_for(&fake, &[], None);
    let pa = provider(&anon).await;
    assert!(pa.check_present(&annex_key(&key), &anon).await.unwrap());
    pa.retrieve(&annex_key(&key), &tmp.path().join("anon"), &anon)
        .await
        .unwrap();
    assert_eq!(std::fs::read(tmp.path().join("anon")).unwrap(), data);
    let err = pa
        .store(&annex_key(&draft_key), &tmp.path().join("b"), &anon)
        .await
        .unwrap_err();
    assert!(
        error_chain_text(&err).contains("DATAVERSE_API_KEY"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_download_resumes_with_range() {
    let fake = FakeDataverse::start(&[]);
    let annex = annex_for(&fake, &[], Some(TOKEN));
    let p = provider(&annex).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = pseudo_random(2_000_000, 5);
    let key = sha256e_key(&data, ".dat");
    p.store(&annex_key(&key), &write(tmp.path(), "s", &data), &annex)
        .await
        .unwrap();
    // The storage host breaks the connection after 700 kB, once.
    fake.admin("POST", "config?drop_after=700000&drop_count=1");
    let dest = tmp.path().join("d");
    p.retrieve(&annex_key(&key), &dest, &annex).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    let (requests, _) = fake.storage_log();
    let ranges: Vec<String> = requests
        .iter()
        .filter_map(|r| r["headers"]["range"].as_str().map(str::to_string))
        .collect();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let resumed_at: u64 = ranges[0]
        .strip_prefix("bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .unwrap()
        .parse()
        .unwrap();
    assert!((600_000..=700_000).contains(&resumed_at), "{ranges:?}");

    // A partial file left by a killed process: only the rest is fetched.
    fake.admin("POST", "reset-log");
    let dest2 = tmp.path().join("d2");
    std::fs::write(&dest2, &data[..1_234_567]).unwrap();
    p.retrieve(&annex_key(&key), &dest2, &annex).await.unwrap();
    assert_eq!(std::fs::read(&dest2).unwrap(), data);
    let (requests, _) = fake.storage_log();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["headers"]["range"], "bytes=1234567-");

    // A corrupt prefix is caught by the checksum and not kept.
    let dest3 = tmp.path().join("d3");
    std::fs::write(&dest3, vec![0u8; 1000]).unwrap();
    let err = p
        .retrieve(&annex_key(&key), &dest3, &annex)
        .await
        .unwrap_err();
    assert!(error_chain_text(&err).contains("checksum"), "{err}");
    p.retrieve(&annex_key(&key), &dest3, &annex).await.unwrap();
    assert_eq!(std::fs::read(&dest3).unwrap(), data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_429_is_waited_out() {
    let fake = FakeDataverse::start(&["--rate-limit", "4/s"]);
    let annex = annex_for(&fake, &[], Some(TOKEN));
    let p = provider(&annex).await;
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..6 {
        let data = pseudo_random(1000 + i, 20 + i as u64);
        let key = sha256e_key(&data, "");
        p.store(&annex_key(&key), &write(tmp.path(), "s", &data), &annex)
            .await
            .unwrap();
        assert!(p.check_present(&annex_key(&key), &annex).await.unwrap());
        let dest = tmp.path().join(format!("d{i}"));
        p.retrieve(&annex_key(&key), &dest, &annex).await.unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
    }
    let limited = fake.api_log().iter().filter(|r| r["status"] == 429).count();
    assert!(limited > 0, "the fake did rate-limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_doi_or_token_is_named() {
    let fake = FakeDataverse::start(&[]);
    let kind = find_kind("dataverse").unwrap();

    let bad_doi = annex_for(&fake, &[("doi", "doi:10.5072/FK2/NOPE")], Some(TOKEN));
    let err = kind
        .initremote(&bad_doi)
        .await
        .map(|_| ())
        .map_err(|e| error_chain_text(&e))
        .unwrap_err();
    assert!(
        err.contains("doi:10.5072/FK2/NOPE") && err.contains("not found"),
        "{err}"
    );

    let bad_token = annex_for(&fake, &[], Some("not-the-token"));
    let err = kind
        .initremote(&bad_token)
        .await
        .map(|_| ())
        .map_err(|e| error_chain_text(&e))
        .unwrap_err();
    assert!(
        err.contains("rejected the API token") && err.contains("DATAVERSE_API_KEY"),
        "{err}"
    );
    assert!(!err.contains("not-the-token"), "token printed: {err}");
    let p = provider(&bad_token).await;
    let err = p
        .check_present(&annex_key("SHA256E-s1--00"), &bad_token)
        .await
        .map(|_| ())
        .map_err(|e| error_chain_text(&e))
        .unwrap_err();
    assert!(err.contains("rejected the API token"), "{err}");

    let not_a_doi = annex_for(&fake, &[("doi", "FK2")], Some(TOKEN));
    let err = kind
        .initremote(&not_a_doi)
        .await
        .map(|_| ())
        .map_err(|e| error_chain_text(&e))
        .unwrap_err();
    assert!(err.contains("doi=FK2"), "{err}");
    let no_url = MemAnnex::with(&[("doi", PID)]);
    assert!(kind
        .initremote(&no_url)
        .await
        .map(|_| ())
        .map_err(|e| error_chain_text(&e))
        .unwrap_err()
        .contains("url="));

    // The unpublished dataset is invisible without a token: say so.
    let anon = annex_for(&fake, &[], None);
    let err = kind
        .initremote(&anon)
        .await
        .map(|_| ())
        .map_err(|e| error_chain_text(&e))
        .unwrap_err();
    assert!(err.contains("DATAVERSE_API_KEY"), "{err}");

    // A good set-up stores the token in git-annex's creds.
    let good = annex_for(&fake, &[], None);
    good.creds.lock().unwrap().insert(
        "dataverse".into(),
        Credentials {
            user: "api-token".into(),
            secret: TOKEN.into(),
        },
    );
    kind.initremote(&good).await.unwrap();
    assert_eq!(good.creds.lock().unwrap()["dataverse"].secret, TOKEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_restricted_files_and_guestbooks_get_clear_errors() {
    let fake = FakeDataverse::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let quick = annex_for(&fake, &[("lockwait", "1")], Some(TOKEN));
    let p = provider(&quick).await;
    let data = pseudo_random(5000, 30);
    let key = sha256e_key(&data, ".bin");
    let src = write(tmp.path(), "s", &data);

    fake.admin("POST", &format!("lock?persistentId={PID}&type=Ingest"));
    let err = p
        .store(&annex_key(&key), &src, &quick)
        .await
        .map(|_| ())
        .map_err(|e| error_chain_text(&e))
        .unwrap_err();
    assert!(err.contains("locked") && err.contains(PID), "{err}");
    fake.admin("POST", &format!("unlock?persistentId={PID}"));

    // A lock that clears by itself is waited for.
    fake.admin(
        "POST",
        &format!("lock?persistentId={PID}&type=EditInProgress&seconds=1.5"),
    );
    let patient = annex_for(&fake, &[("lockwait", "20")], Some(TOKEN));
    let pp = provider(&patient).await;
    pp.store(&annex_key(&key), &src, &patient).await.unwrap();
    fake.publish();

    let id = fake.latest_files()[0].2;
    let anon = annex_for(&fake, &[], None);
    let pa = provider(&anon).await;
    fake.admin("POST", &format!("restrict?id={id}"));
    let err = pa
        .retrieve(&annex_key(&key), &tmp.path().join("r"), &anon)
        .await
        .map(|_| ())
        .map_err(|e| error_chain_text(&e))
        .unwrap_err();
    assert!(
        err.contains("restricted") && err.contains("request access"),
        "{err}"
    );
    fake.admin("POST", &format!("restrict?id={id}&value=false"));

    fake.admin("POST", &format!("guestbook?id={id}"));
    let err = pa
        .retrieve(&annex_key(&key), &tmp.path().join("g"), &anon)
        .await
        .map(|_| ())
        .map_err(|e| error_chain_text(&e))
        .unwrap_err();
    assert!(err.contains("guestbook"), "{err}");
    fake.admin("POST", &format!("guestbook?id={id}&value=false"));
    pa.retrieve(&annex_key(&key), &tmp.path().join("ok"), &anon)
        .await
        .unwrap();
    assert_eq!(std::fs::read(tmp.path().join("ok")).unwrap(), data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_tree_with_odd_names_rename_and_remove() {
    let fake = FakeDataverse::start(&[]);
    let annex = annex_for(&fake, &[("rootpath", "export")], Some(TOKEN));
    let provider = provider(&annex).await;
    // What the kind declares before PREPARE is what the provider has.
    let caps = find_kind("dataverse").unwrap().capabilities();
    assert_eq!(caps.export, provider.export().is_some());
    assert_eq!(caps.claim_urls, provider.urls().is_some());
    let p = provider.export().expect("dataverse exports");
    let tmp = tempfile::tempdir().unwrap();
    let a = pseudo_random(10_000, 40);
    let ka = sha256e_key(&a, ".txt");
    let b = pseudo_random(10_001, 41);
    let kb = sha256e_key(&b, ".txt");
    let name = ".hidden dir/sub-01/notes: v1?.txt";
    p.store_export(
        exported(&export_path(name), &annex_key(&ka), &annex),
        &write(tmp.path(), "a", &a),
    )
    .await
    .unwrap();
    assert!(p
        .check_present_export(exported(&export_path(name), &annex_key(&ka), &annex))
        .await
        .unwrap());
    assert!(!p
        .check_present_export(exported(&export_path(name), &annex_key(&kb), &annex))
        .await
        .unwrap());
    let files = fake.latest_files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].1, "export/_x2e_hidden dir/sub-01", "{files:?}");
    assert_eq!(files[0].0, "notes_x3a_ v1_x3f_.txt");

    // New content under the same name replaces the file.
    p.store_export(
        exported(&export_path(name), &annex_key(&kb), &annex),
        &write(tmp.path(), "b", &b),
    )
    .await
    .unwrap();
    assert!(p
        .check_present_export(exported(&export_path(name), &annex_key(&kb), &annex))
        .await
        .unwrap());
    assert!(!p
        .check_present_export(exported(&export_path(name), &annex_key(&ka), &annex))
        .await
        .unwrap());
    assert_eq!(fake.latest_files().len(), 1);
    p.store_export(
        exported(&export_path(name), &annex_key(&kb), &annex),
        &tmp.path().join("b"),
    )
    .await
    .unwrap();
    assert_eq!(fake.latest_files().len(), 1);

    let moved = "derivatives/notes.txt";
    p.rename_export(
        exported(&export_path(name), &annex_key(&kb), &annex),
        &export_path(moved),
    )
    .await
    .unwrap();
    assert!(!p
        .check_present_export(exported(&export_path(name), &annex_key(&kb), &annex))
        .await
        .unwrap());
    assert!(p
        .check_present_export(exported(&export_path(moved), &annex_key(&kb), &annex))
        .await
        .unwrap());
    let dest = tmp.path().join("back");
    p.retrieve_export(
        exported(&export_path(moved), &annex_key(&kb), &annex),
        &dest,
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b);
    p.remove_export(exported(&export_path(moved), &annex_key(&kb), &annex))
        .await
        .unwrap();
    p.remove_export_directory(&export_path("derivatives"), &annex)
        .await
        .unwrap();
    assert!(!p
        .check_present_export(exported(&export_path(moved), &annex_key(&kb), &annex))
        .await
        .unwrap());
    assert!(fake.latest_files().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paged_listings_and_skipchecksum() {
    // Pages of 3 files: lookups without remembered ids must page through.
    let fake = FakeDataverse::start(&["--max-page", "3", "--checksum", "SHA-256"]);
    let annex = annex_for(&fake, &[("skipchecksum", "yes")], Some(TOKEN));
    let p = provider(&annex).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut keys = vec![];
    for i in 0..8u64 {
        let data = pseudo_random(100 + i as usize, 50 + i);
        let key = sha256e_key(&data, "");
        p.store(&annex_key(&key), &write(tmp.path(), "s", &data), &annex)
            .await
            .unwrap();
        keys.push((key, data));
    }
    fake.publish();
    let fresh = annex_for(&fake, &[], Some(TOKEN));
    let pf = provider(&fresh).await;
    for (key, data) in &keys {
        assert!(
            pf.check_present(&annex_key(key), &fresh).await.unwrap(),
            "{key}"
        );
        let dest = tmp.path().join("d");
        let _ = std::fs::remove_file(&dest);
        pf.retrieve(&annex_key(key), &dest, &fresh).await.unwrap();
        assert_eq!(&std::fs::read(&dest).unwrap(), data);
    }
    assert!(!pf
        .check_present(&annex_key("SHA256E-s1--ab"), &fresh)
        .await
        .unwrap());
    let listings = fake
        .api_log()
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/files"))
        .count();
    assert!(listings >= 3, "listing was paged");
}

/// Renames answer `text/plain` (issue 13, item 1); before 6.8 an empty
/// folder name is ignored, so a move to the top folder is refused there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_renames_on_old_and_new_releases() {
    let names = |fake: &FakeDataverse| -> Vec<(&'static str, &'static str)> {
        fake.latest_files()
            .into_iter()
            .map(|(l, d, _)| -> (&'static str, &'static str) { (l.leak(), d.leak()) })
            .collect()
    };
    for (version, to_top) in [("6.1", false), ("6.11", true)] {
        let fake = FakeDataverse::start(&["--version", version]);
        let annex = annex_for(&fake, &[], Some(TOKEN));
        let provider = provider(&annex).await;
        let p = provider.export().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let a = pseudo_random(1000, 70);
        let ka = sha256e_key(&a, ".txt");
        p.store_export(
            exported(&export_path("sub/a.txt"), &annex_key(&ka), &annex),
            &write(tmp.path(), "a", &a),
        )
        .await
        .unwrap();
        p.rename_export(
            exported(&export_path("sub/a.txt"), &annex_key(&ka), &annex),
            &export_path("sub/deeper/b.txt"),
        )
        .await
        .unwrap();
        assert_eq!(names(&fake), vec![("b.txt", "sub/deeper")]);
        let moved = p
            .rename_export(
                exported(&export_path("sub/deeper/b.txt"), &annex_key(&ka), &annex),
                &export_path("top.txt"),
            )
            .await;
        if to_top {
            moved.unwrap();
            assert_eq!(names(&fake), vec![("top.txt", "")]);
        } else {
            let e = moved.unwrap_err();
            let text = error_chain_text(&e);
            assert!(
                text.contains("6.1") && text.contains("top folder"),
                "{text}"
            );
            // Nothing happened: git-annex uploads again instead.
            assert_eq!(names(&fake), vec![("b.txt", "sub/deeper")]);
        }
    }
}

/// Issue 13, items 6 and 7: whatever a bad token is answered with (401
/// "Bad API key", 400 "User with token <TOKEN> not found."), the error
/// says the token was rejected and never shows it; a valid token without
/// permission (401 too) is "not permitted", not "rejected".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_named_and_never_shown() {
    let kind = find_kind("dataverse").unwrap();
    let secret = "bad-secret-token-42";
    for version in ["6.1", "6.11"] {
        let fake = FakeDataverse::start(&["--version", version]);
        for status in ["401", "400"] {
            fake.admin("POST", &format!("config?bad_token_status={status}"));
            let annex = annex_for(&fake, &[], Some(secret));
            let e = kind.initremote(&annex).await.map(|_| ()).unwrap_err();
            let text = error_chain_text(&e);
            assert!(
                matches!(e, ProviderError::Unauthenticated { .. }),
                "{version} {status}: {text}"
            );
            assert!(!text.contains(secret), "token shown: {text}");
            let p = provider(&annex).await;
            let tmp = tempfile::tempdir().unwrap();
            let data = pseudo_random(100, 3);
            let key = sha256e_key(&data, "");
            let results = [
                p.check_present(&annex_key(&key), &annex).await.map(|_| ()),
                p.store(&annex_key(&key), &write(tmp.path(), "s", &data), &annex)
                    .await,
                p.retrieve(&annex_key(&key), &tmp.path().join("d"), &annex)
                    .await,
                p.remove(&annex_key(&key), &annex).await,
            ];
            for r in results {
                let e = r.unwrap_err();
                let text = error_chain_text(&e);
                assert!(!text.contains(secret), "token shown: {text}");
                assert!(
                    matches!(e, ProviderError::Unauthenticated { .. }),
                    "{version} {status}: {text}"
                );
            }
        }
        // A valid token whose user may not write: 401 as well.
        fake.admin("POST", "config?readonly=1");
        let annex = annex_for(&fake, &[], Some(TOKEN));
        let p = provider(&annex).await;
        let tmp = tempfile::tempdir().unwrap();
        let data = pseudo_random(100, 4);
        let key = sha256e_key(&data, "");
        let e = p
            .store(&annex_key(&key), &write(tmp.path(), "s", &data), &annex)
            .await
            .unwrap_err();
        assert!(
            matches!(e, ProviderError::PermissionDenied { .. }),
            "{}",
            error_chain_text(&e)
        );
        fake.admin("POST", "config?readonly=0");
    }
}

/// Issue 13, item 4: a missing file is answered 400 before 6.2 and 404
/// after; either way it is absent (CHECKPRESENT false, REMOVE succeeds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_files_are_absent_on_every_release() {
    for version in ["6.1", "6.11"] {
        let fake = FakeDataverse::start(&["--version", version]);
        let annex = annex_for(&fake, &[], Some(TOKEN));
        let p = provider(&annex).await;
        let tmp = tempfile::tempdir().unwrap();
        let data = pseudo_random(1000, 5);
        let key = sha256e_key(&data, ".bin");
        p.store(&annex_key(&key), &write(tmp.path(), "s", &data), &annex)
            .await
            .unwrap();
        let id = fake.latest_files()[0].2;
        // Someone else deletes it; our remembered id now names nothing.
        let (status, _, body) = fake.http(
            "DELETE",
            &format!("/api/files/{id}"),
            b"",
            &[("X-Dataverse-key", TOKEN)],
        );
        assert_eq!(status, 200, "{body}");
        let (status, _, _) = fake.http(
            "GET",
            &format!("/api/files/{id}"),
            b"",
            &[("X-Dataverse-key", TOKEN)],
        );
        assert_eq!(status, if version == "6.1" { 400 } else { 404 });
        assert!(
            !p.check_present(&annex_key(&key), &annex).await.unwrap(),
            "{version}"
        );
        p.remove(&annex_key(&key), &annex).await.unwrap();
        assert!(p
            .retrieve(&annex_key(&key), &tmp.path().join("d"), &annex)
            .await
            .unwrap_err()
            .is_not_found());
    }
}

/// Issue 13, item 3: the dataset locks itself for a moment after every
/// upload (EditInProgress) and refuses changes meanwhile with a generic
/// 400 / 500; eight parallel stores, then removes and a rename, all wait
/// their turn and succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_stores_into_a_locking_dataset_all_succeed() {
    let fake = FakeDataverse::start(&[]);
    fake.admin("POST", "config?lock_after_upload=0.3");
    let annex = Arc::new(annex_for(&fake, &[("exporttree", "yes")], Some(TOKEN)));
    let p = provider(&annex).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut jobs = tokio::task::JoinSet::new();
    let mut keys = vec![];
    for i in 0..8u64 {
        let data = pseudo_random(2000 + i as usize, 80 + i);
        let key = sha256e_key(&data, ".bin");
        let src = write(tmp.path(), &format!("s{i}"), &data);
        keys.push(key.clone());
        let (p, annex) = (p.clone(), annex.clone());
        jobs.spawn(async move { p.store(&annex_key(&key), &src, &*annex).await });
    }
    while let Some(r) = jobs.join_next().await {
        r.unwrap().unwrap();
    }
    assert_eq!(fake.latest_files().len(), 8);
    // A lock taken by someone else: delete (400) and rename (500) wait.
    fake.admin(
        "POST",
        &format!("lock?persistentId={PID}&type=Ingest&seconds=1"),
    );
    p.remove(&annex_key(&keys[0]), &*annex).await.unwrap();
    assert_eq!(fake.latest_files().len(), 7);
    let e = p.export().unwrap();
    let data = pseudo_random(100, 99);
    let k = sha256e_key(&data, "");
    e.store_export(
        exported(&export_path("x/a"), &annex_key(&k), &*annex),
        &write(tmp.path(), "e", &data),
    )
    .await
    .unwrap();
    fake.admin(
        "POST",
        &format!("lock?persistentId={PID}&type=Ingest&seconds=1"),
    );
    e.rename_export(
        exported(&export_path("x/a"), &annex_key(&k), &*annex),
        &export_path("x/b"),
    )
    .await
    .unwrap();
    assert!(fake
        .latest_files()
        .iter()
        .any(|(l, d, _)| l == "b" && d == "x"));
}

/// Issue 13, item 5: 2,500 files whose names repeat in three folders;
/// the listing sorts by label only (ties shift between pages) and has no
/// totalCount before 6.2. Every file is found on both releases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_of_2500_same_named_files_are_complete() {
    for version in ["6.1", "6.11"] {
        let fake = FakeDataverse::start(&["--version", version]);
        fake.admin(
            "POST",
            &format!("populate?persistentId={PID}&count=2500&folders=3"),
        );
        let annex = annex_for(&fake, &[("exporttree", "yes")], Some(TOKEN));
        let p = provider(&annex).await;
        let e = p.export().unwrap();
        // The files at the page boundaries (1000, 2000), the first and the last.
        for i in [0usize, 998, 999, 1000, 1001, 1998, 1999, 2000, 2001, 2499] {
            let name = format!("d{}/f{:04}.txt", i % 3, i / 3);
            let key = sha256e_key(format!("{i}\n").as_bytes(), ".txt");
            assert!(
                e.check_present_export(exported(&export_path(&name), &annex_key(&key), &annex))
                    .await
                    .unwrap(),
                "{version}: {name} missing from the listing"
            );
        }
    }
}

/// Issue 13, item 8: the release is read at INITREMOTE; one older than
/// the supported range is refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_before_the_supported_range_are_refused() {
    let fake = FakeDataverse::start(&["--version", "5.14"]);
    let annex = annex_for(&fake, &[], Some(TOKEN));
    let e = find_kind("dataverse")
        .unwrap()
        .initremote(&annex)
        .await
        .map(|_| ())
        .unwrap_err();
    let text = error_chain_text(&e);
    assert!(matches!(e, ProviderError::Config(_)), "{text}");
    assert!(text.contains("5.14") && text.contains("6.1"), "{text}");
}

/// A ZIP archive made by Python's zipfile: two members, one in a folder.
fn zip_bytes(dir: &Path, seed: u8) -> Vec<u8> {
    let out = dir.join(format!("made{seed}.zip"));
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
             \x20   z.writestr('a.txt', 'member a ' * 100 + sys.argv[2])\n\
             \x20   z.writestr('sub/b.bin', bytes(range(256)) * 4)\n",
            out.to_str().unwrap(),
            &seed.to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(out).unwrap()
}

/// Issue 13, item 2: Dataverse unpacks ZIP uploads; a key whose content is
/// a ZIP (named .zip or not, e.g. .docx) round-trips byte for byte, as one
/// file, in key and export mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_content_round_trips_byte_for_byte() {
    let fake = FakeDataverse::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let annex = annex_for(&fake, &[("exporttree", "yes")], Some(TOKEN));
    let p = provider(&annex).await;
    // The fake unpacks ZIPs like Dataverse: an unwrapped upload is two files.
    let zip = zip_bytes(tmp.path(), 1);
    for (i, ext) in [".zip", ".docx"].into_iter().enumerate() {
        let data = zip_bytes(tmp.path(), 10 + i as u8);
        let key = sha256e_key(&data, ext);
        p.store(&annex_key(&key), &write(tmp.path(), "z", &data), &annex)
            .await
            .unwrap();
        let dest = tmp.path().join(format!("back{i}"));
        p.retrieve(&annex_key(&key), &dest, &annex).await.unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data, "{ext}");
        assert!(p.check_present(&annex_key(&key), &annex).await.unwrap());
    }
    assert_eq!(fake.latest_files().len(), 2, "{:?}", fake.latest_files());
    let e = p.export().unwrap();
    let key = sha256e_key(&zip, ".zip");
    e.store_export(
        exported(&export_path("data/archive.zip"), &annex_key(&key), &annex),
        &write(tmp.path(), "e", &zip),
    )
    .await
    .unwrap();
    assert!(e
        .check_present_export(exported(
            &export_path("data/archive.zip"),
            &annex_key(&key),
            &annex
        ))
        .await
        .unwrap());
    // Replaced by other ZIP content: still one file, the new bytes.
    let zip2 = zip_bytes(tmp.path(), 2);
    let key2 = sha256e_key(&zip2, ".zip");
    e.store_export(
        exported(&export_path("data/archive.zip"), &annex_key(&key2), &annex),
        &write(tmp.path(), "e2", &zip2),
    )
    .await
    .unwrap();
    let dest = tmp.path().join("exported");
    e.retrieve_export(
        exported(&export_path("data/archive.zip"), &annex_key(&key2), &annex),
        &dest,
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), zip2);
    assert_eq!(fake.latest_files().len(), 3, "{:?}", fake.latest_files());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_whose_answer_is_cut_still_succeeds_when_the_file_is_gone() {
    // Found by the soak (tests/soak.rs): Dataverse deleted the file, the
    // answer was cut mid-body, and REMOVE reported a failure.
    let fake = FakeDataverse::start(&[]);
    let annex = annex_for(&fake, &[], Some(TOKEN));
    let p = provider(&annex).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = pseudo_random(3_000, 8);
    let key = sha256e_key(&data, ".dat");
    p.store(&annex_key(&key), &write(tmp.path(), "s", &data), &annex)
        .await
        .unwrap();
    fake.admin("POST", "config?cut_delete=1");
    p.remove(&annex_key(&key), &annex).await.unwrap();
    assert!(!p.check_present(&annex_key(&key), &annex).await.unwrap());
    // A delete that did not happen is still a failure: a cut answer for a
    // file that stays (the dataset is read-only) is not called a success.
    let key2 = sha256e_key(b"stays", ".dat");
    p.store(
        &annex_key(&key2),
        &write(tmp.path(), "s2", b"stays"),
        &annex,
    )
    .await
    .unwrap();
    fake.admin("POST", "config?readonly=1");
    assert!(p.remove(&annex_key(&key2), &annex).await.is_err());
    assert!(p.check_present(&annex_key(&key2), &annex).await.unwrap());
}
