//! Uploads and downloads stream: memory does not grow with file size.
//! (Its own test binary, so no other test shares the process.)

use crate::support::annex as support_annex;
use crate::support::common;
use crate::support::dataverse as support_dataverse;

use crate::support::annex::annex_key;
use annexa::providers::{find_kind, Credentials};
use common::pseudo_random;
use support_annex::*;
use support_dataverse::*;

/// Peak resident memory of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_goes_and_comes_back_in_constant_memory() {
    std::env::remove_var("DATAVERSE_API_KEY");
    let fake = FakeDataverse::start(&[]);
    let url = fake.url();
    let annex = MemAnnex::with(&[("url", url.as_str()), ("doi", PID)]);
    annex.creds.lock().unwrap().insert(
        "dataverse".into(),
        Credentials {
            user: "api-token".into(),
            secret: TOKEN.into(),
        },
    );
    let p = find_kind("dataverse")
        .unwrap()
        .prepare(&annex)
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("big");
    // 160 MiB written in 1 MiB pieces (never held whole).
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&src).unwrap();
        for i in 0..160u64 {
            f.write_all(&pseudo_random(1 << 20, i + 1)).unwrap();
        }
    }
    let key = "SHA256E-s167772160--big";
    let before = peak_rss();
    p.store(&annex_key(key), &src, &annex).await.unwrap();
    let dest = tmp.path().join("back");
    p.retrieve(&annex_key(key), &dest, &annex).await.unwrap();
    let grown = peak_rss().saturating_sub(before);
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), 160 << 20);
    assert!(
        grown < 40 << 20,
        "peak memory grew by {} MiB for a 160 MiB file",
        grown >> 20
    );
    // Same bytes, compared piece by piece.
    use std::io::Read;
    let (mut a, mut b) = (
        std::fs::File::open(&src).unwrap(),
        std::fs::File::open(&dest).unwrap(),
    );
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    for _ in 0..160 {
        a.read_exact(&mut x).unwrap();
        b.read_exact(&mut y).unwrap();
        assert!(x == y, "content differs");
    }
}
