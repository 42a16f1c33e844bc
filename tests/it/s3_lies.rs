//! An S3 endpoint that answers 2xx without meaning it (a web server, a
//! captive portal, a broken service): the S3 provider must never count a
//! copy that is not there, never call an upload stored without the
//! service's proof, and never loop on a listing (issue 8). Driven through
//! the provider traits against a scripted HTTP server: no moto needed.

use crate::support::annex as support_annex;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::annex::{annex_key, export_path, exported};
use annexa::providers::{self, Credentials, Provider, ProviderError};
use support_annex::{sha256e_key, MemAnnex};

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
}

/// What the fake answers: status, headers, body.
type Reply = (u16, Vec<(&'static str, String)>, String);
type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

/// A scripted HTTP/1.1 server, one connection per request.
struct Fake {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = handler.clone();
                let log = log.clone();
                std::thread::spawn(move || serve(stream, &*handler, &log));
            }
        });
        Fake { port, seen }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Seen>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let seen = Seen {
        method: parts.next().unwrap_or("").to_string(),
        target: parts.next().unwrap_or("").to_string(),
    };
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        let lower = header.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
        }
    } else {
        std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink()).unwrap();
    }
    log.lock().unwrap().push(seen.clone());
    let (status, headers, body) = handler(&seen);
    let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    let mut has_length = false;
    for (name, value) in &headers {
        has_length |= name.eq_ignore_ascii_case("content-length");
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !has_length {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    if seen.method != "HEAD" {
        out.push_str(&body);
    }
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.flush();
}

/// A prepared S3 remote on the fake, with credentials stored as
/// git-annex would have them.
async fn remote(fake: &Fake, extra: &[(&str, &str)]) -> Arc<dyn Provider> {
    let endpoint = fake.endpoint();
    let mut config = vec![
        ("provider", "s3"),
        ("bucket", "lies"),
        ("endpoint", endpoint.as_str()),
    ];
    config.extend_from_slice(extra);
    let annex = MemAnnex::with(&config);
    annex.creds.lock().unwrap().insert(
        "annexa-s3".into(),
        Credentials {
            user: "AKIAFAKE".into(),
            secret: "fake-secret".into(),
        },
    );
    providers::find_kind("s3")
        .unwrap()
        .prepare(&annex)
        .await
        .expect("prepare")
}

fn html(status: u16) -> Reply {
    (
        status,
        vec![("Content-Type", "text/html".into())],
        "<html><body>Welcome to the hotel network</body></html>".into(),
    )
}

/// Regression: a HEAD `200 text/html` whose length is not the key's size
/// was reported as a present copy.
#[tokio::test]
async fn checkpresent_never_counts_an_object_of_another_size() {
    let fake = Fake::start(|_| {
        (
            200,
            vec![
                ("Content-Type", "text/html".into()),
                ("Content-Length", "1234".into()),
            ],
            String::new(),
        )
    });
    let remote = remote(&fake, &[]).await;
    let annex = MemAnnex::default();
    let key = sha256e_key(b"hello", ".txt");
    match remote.check_present(&annex_key(&key), &annex).await {
        Err(ProviderError::Integrity { .. }) => {}
        other => panic!("a 1234-byte object reported for a 5-byte key: {other:?}"),
    }
    let export = remote.export().unwrap();
    assert!(matches!(
        export
            .check_present_export(exported(&export_path("a.txt"), &annex_key(&key), &annex))
            .await,
        Err(ProviderError::Integrity { .. })
    ));
    // The same answer for a key of that size is a present copy.
    let sized = sha256e_key(&[7u8; 1234], "");
    assert!(remote
        .check_present(&annex_key(&sized), &annex)
        .await
        .unwrap());
}

/// Regression: a PUT answered `200` without an ETag was a stored key.
#[tokio::test]
async fn store_needs_an_etag() {
    let fake = Fake::start(|_| html(200));
    let remote = remote(&fake, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("f");
    std::fs::write(&src, b"hello").unwrap();
    let key = sha256e_key(b"hello", "");
    let annex = MemAnnex::default();
    let stored = remote.store(&annex_key(&key), &src, &annex).await;
    assert!(
        stored.is_err(),
        "a PUT without ETag counted as stored: {stored:?}"
    );
    let export = remote.export().unwrap();
    assert!(export
        .store_export(
            exported(&export_path("a/f"), &annex_key(&key), &annex),
            &src
        )
        .await
        .is_err());
    assert!(fake.seen().iter().any(|s| s.method == "PUT"));
}

/// A PUT with an ETag (not an MD5, as with SSE-KMS) is stored.
#[tokio::test]
async fn store_with_an_etag_succeeds() {
    let fake = Fake::start(|_| (200, vec![("ETag", "\"opaque-etag\"".into())], String::new()));
    let remote = remote(&fake, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("f");
    std::fs::write(&src, b"hello").unwrap();
    let key = sha256e_key(b"hello", "");
    remote
        .store(&annex_key(&key), &src, &MemAnnex::default())
        .await
        .unwrap();
}

/// Regression: a multipart upload whose completion answers 200 without
/// the object's ETag was stored; now it fails and the upload is aborted.
#[tokio::test]
async fn multipart_completion_needs_an_etag() {
    let fake = Fake::start(|seen| {
        if seen.method == "POST" && seen.target.contains("uploads") {
            (
                200,
                vec![],
                "<InitiateMultipartUploadResult><Bucket>lies</Bucket><Key>k</Key>\
                 <UploadId>up1</UploadId></InitiateMultipartUploadResult>"
                    .into(),
            )
        } else if seen.method == "PUT" {
            (200, vec![("ETag", "\"part-etag\"".into())], String::new())
        } else if seen.method == "POST" {
            (
                200,
                vec![],
                "<CompleteMultipartUploadResult><Bucket>lies</Bucket></CompleteMultipartUploadResult>"
                    .into(),
            )
        } else {
            (204, vec![], String::new())
        }
    });
    let remote = remote(&fake, &[("partsize", "5MiB")]).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big");
    let data = vec![1u8; (5 << 20) + 10];
    std::fs::write(&src, &data).unwrap();
    let key = sha256e_key(&data, "");
    let stored = remote
        .store(&annex_key(&key), &src, &MemAnnex::default())
        .await;
    assert!(
        matches!(stored, Err(ProviderError::Integrity { .. })),
        "{stored:?}"
    );
    let seen = fake.seen();
    assert_eq!(seen.iter().filter(|s| s.method == "PUT").count(), 2);
    assert!(
        seen.iter()
            .any(|s| s.method == "DELETE" && s.target.contains("uploadId=up1")),
        "the upload was not aborted: {seen:?}"
    );
}

fn listing(keys: &[&str], token: Option<&str>) -> String {
    let contents: String = keys
        .iter()
        .map(|k| {
            format!(
                "<Contents><Key>{k}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>\
                 <ETag>\"e\"</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>"
            )
        })
        .collect();
    let next = token
        .map(|t| {
            format!(
                "<IsTruncated>true</IsTruncated><NextContinuationToken>{t}</NextContinuationToken>"
            )
        })
        .unwrap_or_else(|| "<IsTruncated>false</IsTruncated>".into());
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>lies</Name>\
         <Prefix>d/</Prefix><KeyCount>{}</KeyCount><MaxKeys>1000</MaxKeys>{next}{contents}</ListBucketResult>",
        keys.len()
    )
}

async fn remove_dir_against(fake: &Fake) -> Result<(), ProviderError> {
    let remote = remote(fake, &[]).await;
    let export = remote.export().unwrap();
    tokio::time::timeout(
        Duration::from_secs(60),
        export.remove_export_directory(&export_path("d"), &MemAnnex::default()),
    )
    .await
    .expect("the listing loops")
}

/// Regression: a server repeating its continuation token made the
/// listing (export directory removal) loop forever.
#[tokio::test]
async fn listing_stops_on_a_repeated_token() {
    let fake = Fake::start(|seen| match seen.method.as_str() {
        "GET" if seen.target.contains("continuation-token") => {
            (200, vec![], listing(&["d/b"], Some("same")))
        }
        "GET" => (200, vec![], listing(&["d/a"], Some("same"))),
        _ => (204, vec![], String::new()),
    });
    let removed = remove_dir_against(&fake).await;
    assert!(
        matches!(removed, Err(ProviderError::Service { .. })),
        "{removed:?}"
    );
    let gets = fake.seen().iter().filter(|s| s.method == "GET").count();
    assert!(gets <= 3, "{gets} listing pages");
}

/// Regression: pages that bring nothing new under fresh tokens never end.
#[tokio::test]
async fn listing_stops_on_a_page_with_nothing_new() {
    let counter = Arc::new(Mutex::new(0u64));
    let fake = Fake::start(move |seen| {
        if seen.method != "GET" {
            return (204, vec![], String::new());
        }
        let mut n = counter.lock().unwrap();
        *n += 1;
        (200, vec![], listing(&["d/a"], Some(&format!("t{n}"))))
    });
    let removed = remove_dir_against(&fake).await;
    assert!(
        matches!(removed, Err(ProviderError::Service { .. })),
        "{removed:?}"
    );
    assert!(fake.seen().iter().filter(|s| s.method == "GET").count() <= 3);
}

/// Only names under the directory are removed, whatever the server lists.
#[tokio::test]
async fn directory_removal_deletes_only_what_is_under_it() {
    let fake = Fake::start(|seen| match seen.method.as_str() {
        "GET" => (200, vec![], listing(&["d/a", "other/x", "d/b"], None)),
        _ => (204, vec![], String::new()),
    });
    remove_dir_against(&fake).await.unwrap();
    let deleted: Vec<String> = fake
        .seen()
        .into_iter()
        .filter(|s| s.method == "DELETE")
        .map(|s| s.target.split('?').next().unwrap().to_string())
        .collect();
    assert_eq!(deleted, ["/lies/d/a", "/lies/d/b"]);
}

/// Regression: listing pages were read whole, however long; one longer
/// than the bound is refused (and nothing is deleted on its word).
#[tokio::test]
async fn listing_pages_are_read_bounded() {
    let fake = Fake::start(|seen| match seen.method.as_str() {
        "GET" => {
            let page = listing(&["d/a"], None).replace(
                "</ListBucketResult>",
                &format!("{}</ListBucketResult>", " ".repeat(9 << 20)),
            );
            (200, vec![], page)
        }
        _ => (204, vec![], String::new()),
    });
    let removed = remove_dir_against(&fake).await;
    assert!(
        matches!(removed, Err(ProviderError::Service { .. })),
        "{removed:?}"
    );
    assert!(!fake.seen().iter().any(|s| s.method == "DELETE"));
}

/// Regression: a URL recorded for a key (`s3://BUCKET///HOST/...`) made
/// retrieve send a signed request to another host, or panic inside
/// rusty-s3 for a `HOST:PORT` form. Such URLs are not this bucket's.
#[tokio::test]
async fn recorded_urls_never_send_requests_elsewhere() {
    let evil = Fake::start(|_| (200, vec![], "stolen".into()));
    let fake = Fake::start(|_| (404, vec![], String::new()));
    let remote = remote(&fake, &[]).await;
    let key = sha256e_key(b"hello", "");
    let annex = MemAnnex::default();
    annex.urls.lock().unwrap().insert(
        key.clone(),
        vec![
            format!("s3://lies///127.0.0.1:{}/x", evil.port),
            "s3://lies/../other/x".to_string(),
            format!("{}/lies//127.0.0.1:{}/x", fake.endpoint(), evil.port),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let got = remote
        .retrieve(&annex_key(&key), &dir.path().join("f"), &annex)
        .await;
    assert!(
        matches!(got, Err(ProviderError::NotFound { .. })),
        "{got:?}"
    );
    assert!(evil.seen().is_empty(), "{:?}", evil.seen());
    for seen in fake.seen() {
        assert!(seen.target.starts_with("/lies/SHA256"), "{seen:?}");
    }
}
