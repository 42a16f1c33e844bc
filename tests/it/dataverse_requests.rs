//! How many Dataverse API requests an export costs, counted by the fake
//! server's `/_fake/api-log` (issue 7, item 5: the listing cache).
//!
//! The 2,000-file measurement of docs/benchmarks.md is `#[ignore]`d:
//! `cargo test --release --test dataverse_requests -- --ignored --nocapture`.

use crate::support::annex as support_annex;
use crate::support::dataverse as support_dataverse;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::support::annex::{annex_key, export_path, exported};
use annexa::providers::{find_kind, Credentials, Provider};
use support_annex::*;
use support_dataverse::*;

fn annex_for(fake: &FakeDataverse) -> MemAnnex {
    // A developer's own token must not leak into these tests.
    std::env::remove_var("DATAVERSE_API_KEY");
    std::env::remove_var("ANNEXA_MAX_RATE");
    let url = fake.url();
    let annex = MemAnnex::with(&[
        ("provider", "dataverse"),
        ("url", url.as_str()),
        ("doi", PID),
        ("exporttree", "yes"),
    ]);
    annex.creds.lock().unwrap().insert(
        "dataverse".into(),
        Credentials {
            user: "api-token".into(),
            secret: TOKEN.into(),
        },
    );
    annex
}

async fn provider(annex: &MemAnnex) -> Arc<dyn Provider> {
    find_kind("dataverse")
        .expect("dataverse is registered")
        .prepare(annex)
        .await
        .expect("prepare")
}

/// API requests since the last reset, without the fake's own endpoints.
fn api_requests(fake: &FakeDataverse) -> Vec<serde_json::Value> {
    // The fake logs a request after its answer is sent: let the last one land.
    std::thread::sleep(std::time::Duration::from_millis(200));
    fake.api_log()
        .into_iter()
        .filter(|r| !r["path"].as_str().unwrap_or("").starts_with("/_fake/"))
        .collect()
}

fn listings(requests: &[serde_json::Value]) -> usize {
    requests
        .iter()
        .filter(|r| {
            let p = r["path"].as_str().unwrap_or("");
            r["method"] == "GET" && p.contains("/versions/") && p.ends_with("/files")
        })
        .count()
}

fn file(dir: &Path, i: usize) -> (String, std::path::PathBuf) {
    let data = format!("file number {i}\n").into_bytes();
    let key = sha256e_key(&data, ".txt");
    let path = dir.join(format!("src{i}"));
    std::fs::write(&path, &data).unwrap();
    (key, path)
}

fn export_name(i: usize) -> String {
    format!("sub-{:02}/f{i}.txt", i % 10)
}

/// Exports `n` new files one after the other (as git-annex does without
/// -J); returns the API requests and the wall time.
async fn export_n(fake: &FakeDataverse, n: usize) -> (Vec<serde_json::Value>, f64) {
    let annex = annex_for(fake);
    let p = provider(&annex).await;
    let tmp = tempfile::tempdir().unwrap();
    let sources: Vec<_> = (0..n).map(|i| file(tmp.path(), i)).collect();
    fake.admin("POST", "reset-log");
    let started = Instant::now();
    for (i, (key, src)) in sources.iter().enumerate() {
        p.export()
            .unwrap()
            .store_export(
                exported(&export_path(&export_name(i)), &annex_key(key), &annex),
                src,
            )
            .await
            .unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let requests = api_requests(fake);
    assert_eq!(fake.latest_files().len(), n);
    (requests, elapsed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_requests_grow_linearly() {
    let fake = FakeDataverse::start(&[]);
    let n = 200;
    let (requests, _) = export_n(&fake, n).await;
    // One upload per file and one listing in all; re-listing per file
    // (the old behaviour) makes this 2n.
    assert!(
        requests.len() <= n + 3,
        "{} requests for {n} files, {} of them listings",
        requests.len(),
        listings(&requests)
    );
    assert_eq!(listings(&requests), 1);
}

/// The figure in docs/benchmarks.md; slow before the listing cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn export_2000_files_requests() {
    let fake = FakeDataverse::start(&[]);
    let n = 2000;
    let (requests, secs) = export_n(&fake, n).await;
    println!(
        "exported {n} files: {} API requests ({} listings), {secs:.1} s",
        requests.len(),
        listings(&requests)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_jobs_share_one_listing() {
    let fake = FakeDataverse::start(&[]);
    let annex = Arc::new(annex_for(&fake));
    let p = provider(&annex).await;
    let tmp = tempfile::tempdir().unwrap();
    fake.admin("POST", "reset-log");
    let jobs: Vec<_> = (0..16)
        .map(|i| {
            let (key, src) = file(tmp.path(), i);
            let (p, annex) = (p.clone(), annex.clone());
            tokio::spawn(async move {
                p.export()
                    .unwrap()
                    .store_export(
                        exported(
                            &export_path(&export_name(i)),
                            &annex_key(&key),
                            annex.as_ref(),
                        ),
                        &src,
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    for job in jobs {
        job.await.unwrap();
    }
    let requests = api_requests(&fake);
    assert_eq!(listings(&requests), 1, "{requests:?}");
    assert_eq!(requests.len(), 17, "{requests:?}");
    assert_eq!(fake.latest_files().len(), 16);
}

/// Another process (here: a second provider with its own cache) changes
/// the dataset behind the first one's cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_cache_is_never_trusted_where_it_matters() {
    let fake = FakeDataverse::start(&[]);
    let annex = annex_for(&fake);
    let a = provider(&annex).await;
    let b = provider(&annex).await;
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<_> = (0..5).map(|i| file(tmp.path(), i)).collect();
    for (i, (key, src)) in files.iter().enumerate() {
        a.export()
            .unwrap()
            .store_export(
                exported(&export_path(&export_name(i)), &annex_key(key), &annex),
                src,
            )
            .await
            .unwrap();
    }
    let write = |name: &str, data: &[u8]| {
        let p = tmp.path().join(name.replace('/', "_"));
        std::fs::write(&p, data).unwrap();
        (sha256e_key(data, ".txt"), p)
    };
    let names = |fake: &FakeDataverse| -> Vec<String> {
        fake.latest_files()
            .into_iter()
            .map(|(label, dir, _)| format!("{dir}/{label}"))
            .collect()
    };

    // Gone elsewhere: CHECKPRESENTEXPORT says so.
    b.export()
        .unwrap()
        .remove_export(exported(
            &export_path(&export_name(0)),
            &annex_key(&files[0].0),
            &annex,
        ))
        .await
        .unwrap();
    assert!(!a
        .export()
        .unwrap()
        .check_present_export(exported(
            &export_path(&export_name(0)),
            &annex_key(&files[0].0),
            &annex
        ))
        .await
        .unwrap());
    // Added elsewhere: found too.
    let (nk, np) = write("new.txt", b"new elsewhere\n");
    b.export()
        .unwrap()
        .store_export(
            exported(&export_path("new.txt"), &annex_key(&nk), &annex),
            &np,
        )
        .await
        .unwrap();
    assert!(a
        .export()
        .unwrap()
        .check_present_export(exported(&export_path("new.txt"), &annex_key(&nk), &annex))
        .await
        .unwrap());

    // Moved elsewhere: removing the old name must not delete the file.
    b.export()
        .unwrap()
        .rename_export(
            exported(
                &export_path(&export_name(1)),
                &annex_key(&files[1].0),
                &annex,
            ),
            &export_path("moved.txt"),
        )
        .await
        .unwrap();
    a.export()
        .unwrap()
        .remove_export(exported(
            &export_path(&export_name(1)),
            &annex_key(&files[1].0),
            &annex,
        ))
        .await
        .unwrap();
    assert!(
        names(&fake).contains(&"/moved.txt".to_string()),
        "{:?}",
        names(&fake)
    );

    // Deleted elsewhere, exported again here: stored.
    b.export()
        .unwrap()
        .remove_export(exported(
            &export_path(&export_name(2)),
            &annex_key(&files[2].0),
            &annex,
        ))
        .await
        .unwrap();
    let (k2, p2) = write("two", b"second content of two\n");
    a.export()
        .unwrap()
        .store_export(
            exported(&export_path(&export_name(2)), &annex_key(&k2), &annex),
            &p2,
        )
        .await
        .unwrap();
    let back = tmp.path().join("back2");
    b.export()
        .unwrap()
        .retrieve_export(
            exported(&export_path(&export_name(2)), &annex_key(&k2), &annex),
            &back,
        )
        .await
        .unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&p2).unwrap());

    // Replaced elsewhere: retrieval gets the new content.
    let (k3, p3) = write("three", b"third, replaced elsewhere\n");
    b.export()
        .unwrap()
        .store_export(
            exported(&export_path(&export_name(3)), &annex_key(&k3), &annex),
            &p3,
        )
        .await
        .unwrap();
    let back = tmp.path().join("back3");
    a.export()
        .unwrap()
        .retrieve_export(
            exported(&export_path(&export_name(3)), &annex_key(&k3), &annex),
            &back,
        )
        .await
        .unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&p3).unwrap());

    // Created elsewhere under a name this cache thinks free: ours wins,
    // and there is one file of that name.
    let (kx, px) = write("clash-b", b"theirs\n");
    b.export()
        .unwrap()
        .store_export(
            exported(&export_path("clash.txt"), &annex_key(&kx), &annex),
            &px,
        )
        .await
        .unwrap();
    let (ky, py) = write("clash-a", b"ours\n");
    a.export()
        .unwrap()
        .store_export(
            exported(&export_path("clash.txt"), &annex_key(&ky), &annex),
            &py,
        )
        .await
        .unwrap();
    let all = names(&fake);
    assert_eq!(
        all.iter().filter(|n| n.contains("clash")).count(),
        1,
        "{all:?}"
    );
    let back = tmp.path().join("backx");
    b.export()
        .unwrap()
        .retrieve_export(
            exported(&export_path("clash.txt"), &annex_key(&ky), &annex),
            &back,
        )
        .await
        .unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), b"ours\n");
    assert!(a
        .export()
        .unwrap()
        .check_present_export(exported(&export_path("clash.txt"), &annex_key(&ky), &annex))
        .await
        .unwrap());
}

/// This process's renames and deletions update the cache: no listing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_renames_and_deletions_need_no_new_listing() {
    let fake = FakeDataverse::start(&[]);
    let annex = annex_for(&fake);
    let p = provider(&annex).await;
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<_> = (0..3).map(|i| file(tmp.path(), i)).collect();
    for (i, (key, src)) in files.iter().enumerate() {
        p.export()
            .unwrap()
            .store_export(
                exported(&export_path(&export_name(i)), &annex_key(key), &annex),
                src,
            )
            .await
            .unwrap();
    }
    fake.admin("POST", "reset-log");
    p.export()
        .unwrap()
        .rename_export(
            exported(
                &export_path(&export_name(0)),
                &annex_key(&files[0].0),
                &annex,
            ),
            &export_path("renamed/r0.txt"),
        )
        .await
        .unwrap();
    p.export()
        .unwrap()
        .remove_export(exported(
            &export_path(&export_name(1)),
            &annex_key(&files[1].0),
            &annex,
        ))
        .await
        .unwrap();
    // Already there under its new name: kept, not uploaded again.
    p.export()
        .unwrap()
        .store_export(
            exported(
                &export_path("renamed/r0.txt"),
                &annex_key(&files[0].0),
                &annex,
            ),
            &files[0].1,
        )
        .await
        .unwrap();
    // Gone: uploaded again.
    p.export()
        .unwrap()
        .store_export(
            exported(
                &export_path(&export_name(1)),
                &annex_key(&files[1].0),
                &annex,
            ),
            &files[1].1,
        )
        .await
        .unwrap();
    let requests = api_requests(&fake);
    assert_eq!(listings(&requests), 0, "{requests:?}");
    let uploads = requests
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"].as_str().unwrap().ends_with("/add"))
        .count();
    assert_eq!(uploads, 1, "{requests:?}");
    let mut names: Vec<String> = fake
        .latest_files()
        .into_iter()
        .map(|(label, dir, _)| format!("{dir}/{label}"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "renamed/r0.txt".to_string(),
            "sub-01/f1.txt".to_string(),
            "sub-02/f2.txt".to_string()
        ]
    );
}
