//! S3 as real stores answer (issue 13): the server verifies every upload
//! (Content-MD5 or x-amz-checksum-sha256) and refuses damaged ones; buckets
//! with SSE-KMS default encryption, whose ETags are not MD5s; stores that
//! refuse the flexible checksum headers. moto_server behind
//! `tests/fakes/s3_store_proxy.py`, which answers as those stores do; the
//! provider is driven directly (as in the conformance suite), and one test
//! runs git-annex end to end.

use crate::support::annex as support_annex;
use crate::support::common;
use crate::support::s3 as support_s3;

use std::sync::Arc;

use crate::support::annex::annex_key;
use annexa::providers::{self, Credentials, Provider, ProviderError};
use common::{pseudo_random, Repo};
use support_annex::{sha256e_key, MemAnnex};
use support_s3::StoreProxy;

const MIB: usize = 1 << 20;

/// The configuration of a remote on `proxy` (bucket `bucket`), with
/// credentials stored as git-annex would have them.
fn annex_for(proxy: &StoreProxy, bucket: &str, extra: &[(&str, &str)]) -> MemAnnex {
    let endpoint = proxy.endpoint();
    let mut config = vec![
        ("provider", "s3"),
        ("createbucket", "yes"),
        ("bucket", bucket),
        ("endpoint", endpoint.as_str()),
    ];
    config.extend_from_slice(extra);
    let annex = MemAnnex::with(&config);
    annex.creds.lock().unwrap().insert(
        "annexa-s3".into(),
        Credentials {
            user: common::AWS_KEY.into(),
            secret: common::AWS_SECRET.into(),
        },
    );
    annex
}

/// INITREMOTE (creates the bucket) then PREPARE.
async fn remote(annex: &MemAnnex) -> Arc<dyn Provider> {
    let kind = providers::find_kind("s3").unwrap();
    kind.initremote(annex).await.expect("initremote");
    kind.prepare(annex).await.expect("prepare")
}

/// Stores `data` as its key from a file, returning the key.
async fn store(remote: &Arc<dyn Provider>, data: &[u8]) -> (String, Result<(), ProviderError>) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("content");
    std::fs::write(&src, data).unwrap();
    let key = sha256e_key(data, ".bin");
    let result = remote
        .store(&annex_key(&key), &src, &MemAnnex::default())
        .await;
    (key, result)
}

/// Retrieves `key` and checks it is `data`, byte for byte.
async fn retrieve_equals(remote: &Arc<dyn Provider>, key: &str, data: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("got");
    remote
        .retrieve(&annex_key(key), &dest, &MemAnnex::default())
        .await
        .expect("retrieve");
    assert!(
        std::fs::read(&dest).unwrap() == data,
        "retrieved bytes differ"
    );
}

/// Single PUTs and multipart parts carry Content-MD5 by default; a body
/// damaged on the way is refused by the server (BadDigest) and reported as
/// an integrity failure, and nothing is stored under the key.
#[tokio::test(flavor = "multi_thread")]
async fn the_server_refuses_damaged_uploads_by_content_md5() {
    let proxy = StoreProxy::start(&["--corrupt"]);
    let annex = annex_for(&proxy, "damaged", &[("partsize", "5MiB")]);
    let remote = remote(&annex).await;
    for data in [pseudo_random(1000, 1), pseudo_random(6 * MIB, 2)] {
        let (key, stored) = store(&remote, &data).await;
        match stored {
            Err(ProviderError::Integrity { .. }) => {}
            other => panic!("a damaged upload of {} bytes: {other:?}", data.len()),
        }
        let text = providers::error_chain_text(&stored.unwrap_err());
        assert!(text.contains("BadDigest"), "{text}");
        assert!(
            !remote
                .check_present(&annex_key(&key), &MemAnnex::default())
                .await
                .unwrap(),
            "a refused upload left an object"
        );
    }
    // The single PUT, and at least the part that failed the other.
    let uploads: Vec<_> = proxy.seen().into_iter().filter(|s| s.is_upload()).collect();
    assert!(uploads.len() >= 2, "{uploads:?}");
    for seen in &uploads {
        assert!(seen.checksums.contains_key("content-md5"), "{seen:?}");
        assert_eq!(seen.status, 400, "{seen:?}");
    }
}

/// Without corruption the same uploads succeed, every PUT and part PUT
/// carrying its own Content-MD5, and come back byte for byte.
#[tokio::test(flavor = "multi_thread")]
async fn every_put_and_part_carries_content_md5() {
    let proxy = StoreProxy::start(&[]);
    let annex = annex_for(&proxy, "md5", &[("partsize", "5MiB")]);
    let remote = remote(&annex).await;
    let small = pseudo_random(1000, 3);
    let big = pseudo_random(11 * MIB, 4);
    for data in [&small, &big] {
        let (key, stored) = store(&remote, data).await;
        stored.expect("store");
        retrieve_equals(&remote, &key, data).await;
    }
    let uploads: Vec<_> = proxy.seen().into_iter().filter(|s| s.is_upload()).collect();
    // One PUT and three parts.
    assert_eq!(uploads.len(), 4, "{uploads:?}");
    let md5s: std::collections::HashSet<_> = uploads
        .iter()
        .map(|s| s.checksums.get("content-md5").expect("Content-MD5").clone())
        .collect();
    assert_eq!(md5s.len(), 4, "each part has its own digest: {uploads:?}");
    // Path style by default (what path-only stores such as Ceph without
    // rgw_dns_name or MinIO without MINIO_DOMAIN accept): the bucket is
    // the first path segment of every request.
    for seen in proxy.seen() {
        assert!(seen.path.starts_with("/md5/"), "{seen:?}");
    }
}

/// checksum=sha256: x-amz-checksum-sha256 on every PUT and part (the
/// multipart upload declared SHA256 and its completion lists each part's
/// checksum); damage is refused just the same.
#[tokio::test(flavor = "multi_thread")]
async fn sha256_checksums_are_sent_and_verified() {
    let proxy = StoreProxy::start(&[]);
    let annex = annex_for(
        &proxy,
        "sha",
        &[("partsize", "5MiB"), ("checksum", "sha256")],
    );
    let remote = remote(&annex).await;
    for data in [pseudo_random(1000, 5), pseudo_random(6 * MIB, 6)] {
        let (key, stored) = store(&remote, &data).await;
        stored.expect("store");
        retrieve_equals(&remote, &key, &data).await;
    }
    let seen = proxy.seen();
    let uploads: Vec<_> = seen.iter().filter(|s| s.is_upload()).collect();
    assert_eq!(uploads.len(), 3, "{uploads:?}");
    for s in &uploads {
        assert!(s.checksums.contains_key("x-amz-checksum-sha256"), "{s:?}");
        assert!(!s.checksums.contains_key("content-md5"), "{s:?}");
    }
    let creates: Vec<_> = seen
        .iter()
        .filter(|s| {
            s.method == "POST"
                && s.query
                    .split('&')
                    .any(|p| p.split('=').next() == Some("uploads"))
        })
        .collect();
    // The initremote probe and the upload, both declaring SHA256.
    assert_eq!(creates.len(), 2, "{creates:?}");
    for c in creates {
        assert_eq!(
            c.checksums
                .get("x-amz-checksum-algorithm")
                .map(String::as_str),
            Some("SHA256")
        );
    }
    assert_eq!(
        annex
            .config
            .lock()
            .unwrap()
            .get("checksum")
            .map(String::as_str),
        Some("sha256")
    );

    let damaged = StoreProxy::start(&["--corrupt"]);
    let annex = annex_for(&damaged, "sha", &[("checksum", "sha256")]);
    let remote = self::remote(&annex).await;
    let (_, stored) = store(&remote, &pseudo_random(1000, 7)).await;
    assert!(
        matches!(stored, Err(ProviderError::Integrity { .. })),
        "{stored:?}"
    );
}

/// A bucket with SSE-KMS default encryption: ETags are not MD5s and S3
/// says aws:kms. Uploads (single and multipart) succeed and come back
/// byte for byte, with Content-MD5 (the default) and with checksum=none.
/// The same ETags without the KMS header are damage to checksum=none.
#[tokio::test(flavor = "multi_thread")]
async fn uploads_to_a_kms_encrypted_bucket_succeed_and_verify() {
    let proxy = StoreProxy::start(&["--kms"]);
    for (bucket, checksum) in [("kms-md5", "md5"), ("kms-none", "none")] {
        let annex = annex_for(
            &proxy,
            bucket,
            &[("partsize", "5MiB"), ("checksum", checksum)],
        );
        let remote = remote(&annex).await;
        proxy.encrypt_bucket_with_kms(bucket);
        for (n, data) in [pseudo_random(2000, 8), pseudo_random(6 * MIB, 9)]
            .iter()
            .enumerate()
        {
            let (key, stored) = store(&remote, data).await;
            stored.unwrap_or_else(|e| panic!("checksum={checksum}, upload {n}: {e:?}"));
            assert!(remote
                .check_present(&annex_key(&key), &MemAnnex::default())
                .await
                .unwrap());
            retrieve_equals(&remote, &key, data).await;
        }
    }
    let uploads = proxy.seen().into_iter().filter(|s| s.is_upload()).count();
    assert_eq!(uploads, 6);

    // The rewrite is what a client without server-side checks would take
    // for damage: without the KMS header, checksum=none fails the upload...
    let plain = StoreProxy::start(&["--etag-not-md5"]);
    let annex = annex_for(&plain, "plain", &[("checksum", "none")]);
    let remote = remote(&annex).await;
    let (_, stored) = store(&remote, &pseudo_random(2000, 10)).await;
    assert!(
        matches!(stored, Err(ProviderError::Integrity { .. })),
        "{stored:?}"
    );
    // ...while with Content-MD5 the server's own check is what counts.
    let annex = annex_for(&plain, "plain", &[]);
    let remote = self::remote(&annex).await;
    let (key, stored) = store(&remote, &pseudo_random(2000, 10)).await;
    stored.expect("store with Content-MD5");
    retrieve_equals(&remote, &key, &pseudo_random(2000, 10)).await;
}

/// A store that refuses x-amz-checksum-* headers (Google Cloud Storage's
/// XML API): initremote with checksum=sha256 finds out and remembers
/// checksum=md5; a remote already configured with sha256 falls back to
/// Content-MD5 on its first upload, says so once, and stays there.
#[tokio::test(flavor = "multi_thread")]
async fn stores_refusing_flexible_checksums_get_content_md5() {
    let proxy = StoreProxy::start(&["--no-flexible-checksums"]);
    let annex = annex_for(&proxy, "gcs", &[("checksum", "sha256")]);
    let kind = providers::find_kind("s3").unwrap();
    kind.initremote(&annex).await.expect("initremote");
    assert_eq!(
        annex
            .config
            .lock()
            .unwrap()
            .get("checksum")
            .map(String::as_str),
        Some("md5")
    );
    assert!(
        annex
            .messages
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.contains("InvalidArgument") && m.contains("checksum=md5")),
        "{:?}",
        annex.messages.lock().unwrap()
    );
    let remote = kind.prepare(&annex).await.unwrap();
    let (key, stored) = store(&remote, &pseudo_random(3000, 11)).await;
    stored.expect("store");
    retrieve_equals(&remote, &key, &pseudo_random(3000, 11)).await;

    // Configured before annexa probed (or by hand): the first upload
    // falls back, later ones go straight to Content-MD5.
    let annex = annex_for(
        &proxy,
        "gcs",
        &[("checksum", "sha256"), ("partsize", "5MiB")],
    );
    let remote = kind.prepare(&annex).await.unwrap();
    let before = proxy.seen().len();
    let store_annex = MemAnnex::default();
    let dir = tempfile::tempdir().unwrap();
    for (seed, size) in [(12, 6 * MIB), (13, 4000)] {
        let data = pseudo_random(size, seed);
        let src = dir.path().join(format!("f{seed}"));
        std::fs::write(&src, &data).unwrap();
        let key = sha256e_key(&data, "");
        remote
            .store(&annex_key(&key), &src, &store_annex)
            .await
            .unwrap_or_else(|e| panic!("store {size}: {e:?}"));
        retrieve_equals(&remote, &key, &data).await;
    }
    let refused: Vec<_> = proxy.seen()[before..]
        .iter()
        .filter(|s| s.status == 400)
        .cloned()
        .collect();
    assert_eq!(
        refused.len(),
        1,
        "one refused try, then Content-MD5: {refused:?}"
    );
    let said = store_annex.messages.lock().unwrap().clone();
    assert_eq!(
        said.iter().filter(|m| m.contains("Content-MD5")).count(),
        1,
        "{said:?}"
    );
}

/// git-annex end to end on a KMS-encrypted bucket: copy (one single PUT,
/// one multipart upload), drop, get, and fsck --from the remote.
#[test]
fn git_annex_round_trip_on_a_kms_bucket() {
    let proxy = StoreProxy::start(&["--kms"]);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));
    let endpoint = format!("endpoint={}", proxy.endpoint());
    repo.initremote_ok(
        "kms",
        &[
            "provider=s3",
            "createbucket=yes",
            "bucket=annexa-kms",
            "partsize=5MiB",
            &endpoint,
        ],
    );
    proxy.encrypt_bucket_with_kms("annexa-kms");
    let big = pseudo_random(7 * MIB, 14);
    repo.write("big.bin", &big);
    repo.write("small.txt", b"small content in a KMS bucket");
    repo.ok(&["git", "annex", "add", "-q", "."]);
    repo.ok(&["git", "commit", "-q", "-m", "add"]);
    repo.ok(&["git", "annex", "copy", "--to", "kms", "."]);
    repo.ok(&["git", "annex", "drop", "."]);
    repo.ok(&["git", "annex", "get", "."]);
    assert!(std::fs::read(repo.dir.join("big.bin")).unwrap() == big);
    repo.ok(&["git", "annex", "fsck", "--from", "kms", "."]);
    let kms_answers = proxy
        .seen()
        .into_iter()
        .filter(|s| s.is_upload() && s.status == 200)
        .count();
    assert_eq!(kms_answers, 3, "one PUT and two parts");
}
