//! Single faults, each aimed at one place: what the soak (tests/soak.rs)
//! meets at random, here made to happen exactly where it hurts.

use crate::support::common;
use crate::support::faults as support_faults;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use annexa::transfer::{Client, Download, RetryPolicy};
use common::Moto;
use support_faults::{repo_with_s3_remote, run_bounded, FaultProxy, Route};

/// What one scripted connection answers.
enum Answer {
    /// 200 with the full Content-Length, but only the first `n` bytes.
    CutAfter(usize),
    /// 200 text/html: a captive portal's page.
    Portal,
    /// 206 with the rest of the content from the asked offset.
    Rest,
}

/// A server that answers each connection with the next scripted answer
/// and records the `Range` header of each request.
fn scripted(content: Vec<u8>, answers: Vec<Answer>) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/object", listener.local_addr().unwrap());
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = ranges.clone();
    std::thread::spawn(move || {
        for answer in answers {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut range = None;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("range:") {
                    range = Some(v.trim().to_string());
                }
            }
            seen.lock().unwrap().push(range.clone());
            let head = |status: &str, extra: &str, len: usize| {
                format!("HTTP/1.1 {status}\r\n{extra}Content-Length: {len}\r\nConnection: close\r\n\r\n")
            };
            match answer {
                Answer::CutAfter(n) => {
                    let _ = stream.write_all(head("200 OK", "", content.len()).as_bytes());
                    let _ = stream.write_all(&content[..n]);
                }
                Answer::Portal => {
                    let page = b"<html><body>Please sign in</body></html>";
                    let _ = stream.write_all(
                        head("200 OK", "Content-Type: text/html\r\n", page.len()).as_bytes(),
                    );
                    let _ = stream.write_all(page);
                }
                Answer::Rest => {
                    let start: usize = range
                        .as_deref()
                        .and_then(|r| r.strip_prefix("bytes="))
                        .and_then(|r| r.trim_end_matches('-').parse().ok())
                        .unwrap_or(0);
                    let extra = format!(
                        "Content-Range: bytes {start}-{}/{}\r\n",
                        content.len() - 1,
                        content.len()
                    );
                    let _ = stream.write_all(
                        head("206 Partial Content", &extra, content.len() - start).as_bytes(),
                    );
                    let _ = stream.write_all(&content[start..]);
                }
            }
            let _ = stream.flush();
            // Let the client read it all before the connection closes.
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
        }
    });
    (url, ranges)
}

/// A captive portal's 200 page in answer to a resumed request is not the
/// object: the download fails, and the bytes already on disk stay there to
/// be resumed from (they used to be thrown away, so every later attempt
/// fetched them again).
#[tokio::test]
async fn a_portal_page_on_resume_keeps_the_bytes_already_on_disk() {
    let content = common::pseudo_random(100_000, 9);
    let (url, ranges) = scripted(
        content.clone(),
        vec![Answer::CutAfter(40_000), Answer::Portal, Answer::Rest],
    );
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("object");
    let policy = RetryPolicy {
        attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let client = Client::new(policy).unwrap();
    let http = client.http().clone();
    let request = move || http.get(&url);
    let spec = Download {
        request: &request,
        expected_size: Some(content.len() as u64),
        checksum: None,
        resume: true,
    };
    let first = client.download(&spec, &dest, &|_| {}).await;
    assert!(first.is_err(), "a portal page was taken for the object");
    assert_eq!(
        std::fs::metadata(&dest).unwrap().len(),
        40_000,
        "the bytes that had arrived were thrown away"
    );
    let second = client.download(&spec, &dest, &|_| {}).await.unwrap();
    assert_eq!(second.resumed_from, 40_000);
    assert_eq!(std::fs::read(&dest).unwrap(), content);
    assert_eq!(
        *ranges.lock().unwrap(),
        vec![
            None,
            Some("bytes=40000-".to_string()),
            Some("bytes=40000-".to_string())
        ]
    );
}

/// A server that repeats a listing page under the same continuation token
/// ends the listing with a clear error, in bounded time, instead of looping.
#[test]
fn a_repeated_listing_page_stops_with_a_clear_error() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(
        3,
        &["duplicate_page"],
        &[Route {
            upstream_port: moto.port,
            objects: None,
        }],
    );
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo_with_s3_remote(tmp.path(), &proxy.url(0), "annexa-pages", &[]);
    for name in ["a.csv", "b.csv"] {
        moto.put_object(&format!("annexa-pages/folder/{name}"), name);
    }
    let addurl = || {
        run_bounded(
            repo.command(&["git", "annex", "addurl", "s3://annexa-pages/folder/"])
                .env("ANNEXA_TIMEOUT", support_faults::REMOTE_TIMEOUT),
            Duration::from_secs(120),
        )
    };
    proxy.set_rate(1.0);
    let out = addurl();
    let text = common::text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("S3 sent a page with nothing new"), "{text}");
    assert!(proxy.stats().faults["duplicate_page"] >= 2);
    assert!(!repo.dir.join("annexa-pages_folder_").exists());

    // The same listing, honestly paged, is taken whole.
    proxy.set_rate(0.0);
    let out = addurl();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(repo.dir.join("annexa-pages_folder_/a.csv")).unwrap(),
        b"a.csv"
    );
    assert_eq!(
        std::fs::read(repo.dir.join("annexa-pages_folder_/b.csv")).unwrap(),
        b"b.csv"
    );
}
