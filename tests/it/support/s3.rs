//! moto_server behind `tests/fakes/s3_store_proxy.py`, which answers as
//! other S3 stores do (verifies Content-MD5 and x-amz-checksum-sha256 as
//! AWS does, SSE-KMS ETags, stores that refuse flexible checksums, damage
//! on the way) and logs what each request carried.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::support::common::{tool, Moto};
use crate::support::fake::FakeServer;
use std::io::Write;

/// One request as the proxy saw it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Content-MD5 and x-amz-checksum-* headers, names lower-case.
    pub checksums: std::collections::HashMap<String, String>,
    pub status: u16,
}

impl Seen {
    /// A PUT of object bytes (whole object or a part), not a bucket call.
    pub fn is_upload(&self) -> bool {
        self.method == "PUT"
            && self
                .path
                .trim_start_matches('/')
                .split_once('/')
                .is_some_and(|(_, object)| !object.is_empty())
    }
}

/// The proxy, stopped on drop (with its moto).
pub struct StoreProxy {
    server: FakeServer,
    pub moto: Moto,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl StoreProxy {
    /// moto plus the proxy in front of it with `flags` (`--kms`, ...).
    pub fn start(flags: &[&str]) -> StoreProxy {
        let moto = Moto::start();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        let (upstream, log_arg) = (moto.endpoint(), log.to_str().unwrap().to_string());
        let args = ["--upstream", &upstream, "--log", &log_arg];
        StoreProxy {
            server: FakeServer::spawn("s3_store_proxy.py", &[&args[..], flags].concat()),
            moto,
            log,
            _dir: dir,
        }
    }

    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a log line"))
            .collect()
    }

    /// Gives `bucket` (on moto) SSE-KMS default encryption, as
    /// `aws s3api put-bucket-encryption` does.
    pub fn encrypt_bucket_with_kms(&self, bucket: &str) {
        let body = "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>\
                    <SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault>\
                    </Rule></ServerSideEncryptionConfiguration>";
        let out = Command::new("curl")
            // Not a form: moto would read the body as one.
            .args(["-sf", "-X", "PUT", "-H", "Content-Type: application/xml"])
            .args(["--data-binary", body])
            .arg(format!("{}/{bucket}?encryption", self.moto.endpoint()))
            .output()
            .expect("curl runs");
        assert!(out.status.success(), "put-bucket-encryption failed");
        let out = Command::new("curl")
            .args(["-sf"])
            .arg(format!("{}/{bucket}?encryption", self.moto.endpoint()))
            .output()
            .expect("curl runs");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("aws:kms"),
            "moto did not keep the bucket's KMS encryption"
        );
    }
}

/// Puts, replaces and deletes objects (public-read: moto refuses anonymous
/// reads otherwise), one JSON operation per line on stdin.
const FILL_SCRIPT: &str = r#"
import sys, json, boto3
from boto3.s3.transfer import TransferConfig
from concurrent.futures import ThreadPoolExecutor
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="a",
                  aws_secret_access_key="b", region_name="us-east-1")
bucket = sys.argv[2]
try:
    s3.create_bucket(Bucket=bucket, ACL="public-read")
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
def run(op):
    if op["op"] == "put":
        s3.put_object(Bucket=bucket, Key=op["key"], Body=op["data"].encode(), ACL="public-read")
    elif op["op"] == "multipart":
        import io
        body = (op["data"] * (op["size"] // len(op["data"]) + 1))[: op["size"]].encode()
        s3.upload_fileobj(io.BytesIO(body), bucket, op["key"], ExtraArgs={"ACL": "public-read"},
                          Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
    else:
        s3.delete_object(Bucket=bucket, Key=op["key"])
ops = [json.loads(l) for l in sys.stdin if l.strip()]
with ThreadPoolExecutor(8) as ex:
    list(ex.map(run, ops))
"#;

/// Creates `bucket` on moto (if new) and runs `ops` ([`put`] and
/// `{"op": "multipart", "key", "data", "size"}` / `{"op": "delete", "key"}`).
pub fn fill_bucket(moto: &Moto, bucket: &str, ops: &[serde_json::Value]) {
    let mut child = Command::new(tool("python3"))
        .args(["-c", FILL_SCRIPT, &moto.endpoint(), bucket])
        .stdin(Stdio::piped())
        .spawn()
        .expect("the tools venv's python runs");
    let mut stdin = child.stdin.take().unwrap();
    for op in ops {
        writeln!(stdin, "{op}").unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success(), "filling moto failed");
}

/// An operation of [`fill_bucket`]: `data` at `key`, public-read.
pub fn put(key: &str, data: &str) -> serde_json::Value {
    serde_json::json!({"op": "put", "key": key, "data": data})
}
