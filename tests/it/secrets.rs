//! Secrets never show: every output channel (git-annex's stdout and stderr,
//! its --debug protocol transcript, the remote's own log at
//! ANNEXA_LOG=trace, which git-annex passes on) is searched for every
//! secret the run used, for every provider, through a store, a get, a
//! failing request, a bad-credential answer, and a server that echoes the
//! whole request back in its error answers (`EchoServer`: session token,
//! signature, `StringToSign`/`CanonicalRequest`, API token headers). Only
//! git-annex's own --debug record of the SETCREDS/CREDS protocol lines,
//! which must carry the secret to its credential store, is exempt.

use crate::support::common;
use crate::support::dataverse as support_dataverse;
use crate::support::figshare as support_figshare;
use crate::support::github as support_github;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::{Moto, Repo, AWS_SECRET};
use support_dataverse::{FakeDataverse, PID, TOKEN};

/// Shaped like a real STS token: `/`, `+` and `=` change when URL-encoded.
const SESSION_TOKEN: &str = "FwoGZXIvYXdzEXAMPLE/SESSION+TOKEN/secret0123==";

/// How the echo server words its error answers.
#[derive(Clone, Copy)]
enum Echo {
    /// S3: bucket-level requests succeed (so initremote works); object
    /// requests get a 400 `InvalidToken` document with `<Token-0>`,
    /// `<StringToSign>` and `<CanonicalRequest>` echoes (GET), or a 403
    /// HTML page with the request line and headers, as a proxy might (PUT).
    S3,
    /// Dataverse, Figshare, GitHub: 401 with a JSON message that repeats the
    /// request line and every header (the API token with them).
    Json,
}

/// A server that answers with the request echoed back, and remembers the
/// secrets it saw that the test cannot know in advance (signatures).
struct EchoServer {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl EchoServer {
    fn start(kind: Echo) -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let record = record.clone();
                std::thread::spawn(move || {
                    let _ = serve_echo(stream, kind, &record);
                });
            }
        });
        EchoServer { url, seen }
    }

    /// Signatures and credential headers the server received.
    fn seen_secrets(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve_echo(stream: TcpStream, kind: Echo, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let header = |name: &str| {
        head.iter().skip(1).find_map(|h| {
            let (n, v) = h.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    // Read the whole body, so the client sees our answer, not a reset.
    if let Some(n) = header("content-length").and_then(|v| v.parse::<u64>().ok()) {
        std::io::copy(&mut (&mut reader).take(n), &mut std::io::sink())?;
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = u64::from_str_radix(size.trim(), 16).unwrap_or(0);
            std::io::copy(&mut (&mut reader).take(n + 2), &mut std::io::sink())?;
            if n == 0 {
                break;
            }
        }
    }
    let request_line = head.first().cloned().unwrap_or_default();
    let mut words = request_line.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let query = target.split_once('?').map_or("", |(_, q)| q);
    {
        let mut seen = seen.lock().unwrap();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if name == "X-Amz-Signature" {
                seen.push(value.into_owned());
            }
        }
        seen.extend(header("authorization"));
        seen.extend(header("x-dataverse-key"));
    }
    let everything = head.join("\n");
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body) = match kind {
        Echo::S3 if path.trim_matches('/').split('/').count() <= 1 => {
            // The bucket itself (HEAD at initremote): it exists.
            ("200 OK", "application/xml", String::new())
        }
        Echo::S3 if method == "GET" => {
            let token = url::form_urlencoded::parse(query.as_bytes())
                .find(|(n, _)| n == "X-Amz-Security-Token")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            (
                "400 Bad Request",
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidToken</Code>\
                     <Message>The provided token is malformed or otherwise invalid.</Message>\
                     <Token-0>{token}</Token-0><StringToSign>AWS4-HMAC-SHA256\n{query}</StringToSign>\
                     <CanonicalRequest>{everything}</CanonicalRequest><RequestId>1</RequestId></Error>"
                ),
            )
        }
        Echo::S3 => (
            "403 Forbidden",
            "text/html",
            format!("<html><body><h1>Blocked</h1><pre>{everything}</pre></body></html>"),
        ),
        Echo::Json => (
            "401 Unauthorized",
            "application/json",
            serde_json::json!({
                "status": "ERROR",
                "message": format!("Bad api key or token in: {}", everything.replace('\n', " | ")),
                "code": "InvalidToken",
            })
            .to_string(),
        ),
    };
    let mut stream = stream;
    let body = if method == "HEAD" {
        String::new()
    } else {
        body
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

fn all_output(repo: &Repo, argv: &[&str]) -> String {
    let out = repo
        .command(argv)
        .env("ANNEXA_LOG", "trace")
        .output()
        .expect("runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn annex(repo: &Repo, argv: &[&str]) -> String {
    let mut full = vec!["git", "annex"];
    full.extend_from_slice(argv);
    full.push("--debug");
    all_output(repo, &full)
}

/// Every line but git-annex's own record of the credential messages of the
/// protocol: SETCREDS/CREDS must carry the secret to git-annex's credential
/// store, and git-annex's `--debug` logs every protocol line it exchanges.
/// That is git-annex's output, not annexa's; all the rest must be clean.
fn assert_clean(text: &str, secrets: &[&str]) {
    for line in text.lines() {
        let protocol_creds = line.contains("git-annex-remote-annexa[")
            && (line.contains(" SETCREDS ") || line.contains(" CREDS "));
        if protocol_creds {
            continue;
        }
        for secret in secrets {
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            assert!(
                !line.contains(secret) && !line.contains(&encoded),
                "a secret appeared in the output: {line}"
            );
        }
    }
}

#[test]
fn s3_secrets_never_appear_in_any_output() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo")).env("AWS_SESSION_TOKEN", SESSION_TOKEN);
    let secrets = [AWS_SECRET, SESSION_TOKEN];
    let mut seen = String::new();
    seen += &all_output(
        &repo,
        &[
            "git",
            "annex",
            "initremote",
            "s3",
            "type=external",
            "externaltype=annexa",
            "provider=s3",
            "createbucket=yes",
            "encryption=none",
            "bucket=annexa-secrets",
            &format!("endpoint={}", moto.endpoint()),
            "--debug",
        ],
    );
    repo.write("a.txt", b"some content");
    repo.ok(&["git", "annex", "add", "a.txt"]);
    seen += &all_output(
        &repo,
        &["git", "annex", "copy", "--to", "s3", "--debug", "a.txt"],
    );
    seen += &all_output(&repo, &["git", "annex", "drop", "--debug", "a.txt"]);
    seen += &all_output(&repo, &["git", "annex", "get", "--debug", "a.txt"]);
    // Requests that fail: an object that is not in the bucket, checked
    // (HEAD 404) and fetched (GET 404 with an error document).
    repo.write("c.txt", b"never stored");
    repo.ok(&["git", "annex", "add", "c.txt"]);
    let key = repo.ok(&["git", "annex", "lookupkey", "c.txt"]);
    let failed = all_output(
        &repo,
        &[
            "git",
            "annex",
            "checkpresentkey",
            key.trim(),
            "s3",
            "--debug",
        ],
    );
    assert!(failed.contains("CHECKPRESENT-FAILURE"), "{failed}");
    seen += &failed;
    let uuid = repo.ok(&["git", "config", "remote.s3.annex-uuid"]);
    repo.ok(&[
        "git",
        "annex",
        "setpresentkey",
        key.trim(),
        uuid.trim(),
        "1",
    ]);
    seen += &all_output(&repo, &["git", "annex", "drop", "--force", "c.txt"]);
    let failed = all_output(
        &repo,
        &["git", "annex", "get", "--from", "s3", "--debug", "c.txt"],
    );
    assert!(failed.contains("TRANSFER-FAILURE"), "{failed}");
    seen += &failed;
    seen += &all_output(&repo, &["git", "annex", "drop", "--force", "a.txt"]);
    seen += &all_output(
        &repo,
        &["git", "annex", "get", "--from", "s3", "--debug", "a.txt"],
    );
    assert!(
        seen.contains("TRANSFER-SUCCESS"),
        "the run did not happen:\n{seen}"
    );
    assert_clean(&seen, &secrets);
}

#[test]
fn dataverse_token_never_appears_in_any_output() {
    let fake = FakeDataverse::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo")).env("DATAVERSE_API_KEY", TOKEN);
    let mut seen = String::new();
    seen += &all_output(
        &repo,
        &[
            "git",
            "annex",
            "initremote",
            "dv",
            "type=external",
            "externaltype=annexa",
            "provider=dataverse",
            "encryption=none",
            &format!("url={}", fake.url()),
            &format!("doi={PID}"),
            "--debug",
        ],
    );
    repo.write("a.txt", b"some content");
    repo.ok(&["git", "annex", "add", "a.txt"]);
    seen += &all_output(
        &repo,
        &["git", "annex", "copy", "--to", "dv", "--debug", "a.txt"],
    );
    seen += &all_output(&repo, &["git", "annex", "drop", "--debug", "a.txt"]);
    seen += &all_output(&repo, &["git", "annex", "get", "--debug", "a.txt"]);
    // A rejected token: the server's answer must not carry it to the user.
    let bad = "bad-token-that-must-not-print-42";
    repo.write("b.txt", b"other content");
    repo.ok(&["git", "annex", "add", "b.txt"]);
    let rejected = all_output(
        &repo.env("DATAVERSE_API_KEY", bad),
        &["git", "annex", "copy", "--to", "dv", "--debug", "b.txt"],
    );
    assert!(rejected.contains("failed"), "{rejected}");
    seen += &rejected;
    assert!(
        seen.contains("TRANSFER-SUCCESS"),
        "the run did not happen:\n{seen}"
    );
    assert_clean(&seen, &[TOKEN, bad]);
}

/// S3 against a server that answers object requests by echoing the
/// request: the session token in `<Token-0>`, the signed query in
/// `<StringToSign>`/`<CanonicalRequest>`, or an HTML page with the request
/// line. Neither the secret key, the session token nor any signature the
/// server received may appear anywhere.
#[test]
fn s3_echoed_token_and_signatures_never_appear_in_any_output() {
    let echo = EchoServer::start(Echo::S3);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo")).env("AWS_SESSION_TOKEN", SESSION_TOKEN);
    let mut seen = annex(
        &repo,
        &[
            "initremote",
            "s3echo",
            "type=external",
            "externaltype=annexa",
            "provider=s3",
            "createbucket=yes",
            "encryption=none",
            "bucket=annexa-echo",
            "region=us-east-1",
            &format!("endpoint={}", echo.url),
        ],
    );
    repo.write("a.txt", b"echoed content");
    repo.ok(&["git", "annex", "add", "a.txt"]);
    // PUT: answered with an HTML page repeating the request.
    let stored = annex(&repo, &["copy", "--fast", "--to", "s3echo", "a.txt"]);
    assert!(stored.contains("TRANSFER-FAILURE"), "{stored}");
    seen += &stored;
    let key = repo.ok(&["git", "annex", "lookupkey", "a.txt"]);
    seen += &annex(&repo, &["checkpresentkey", key.trim(), "s3echo"]);
    let uuid = repo.ok(&["git", "config", "remote.s3echo.annex-uuid"]);
    repo.ok(&[
        "git",
        "annex",
        "setpresentkey",
        key.trim(),
        uuid.trim(),
        "1",
    ]);
    seen += &annex(&repo, &["drop", "--force", "a.txt"]);
    // GET: answered with an InvalidToken document echoing token and signature.
    let fetched = annex(&repo, &["get", "--from", "s3echo", "a.txt"]);
    assert!(fetched.contains("TRANSFER-FAILURE"), "{fetched}");
    assert!(fetched.contains("InvalidToken"), "{fetched}");
    seen += &fetched;
    let signatures = echo.seen_secrets();
    assert!(
        signatures.len() >= 2,
        "the server saw no signed request: {signatures:?}"
    );
    let mut secrets = vec![AWS_SECRET, SESSION_TOKEN];
    secrets.extend(signatures.iter().map(String::as_str));
    assert_clean(&seen, &secrets);
}

/// initremote of a token-based provider against a server that repeats the
/// whole request (token header included) in its 401 answer.
fn assert_echoed_token_never_appears(variable: &str, token: &str, params: &[String]) {
    let echo = EchoServer::start(Echo::Json);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo")).env(variable, token);
    let mut argv = vec![
        "initremote",
        "echo",
        "type=external",
        "externaltype=annexa",
        "encryption=none",
    ];
    argv.extend(params.iter().map(String::as_str));
    let argv: Vec<String> = argv
        .iter()
        .map(|a| a.replace("ECHO_URL", &echo.url))
        .collect();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let seen = annex(&repo, &argv);
    assert!(seen.contains("INITREMOTE-FAILURE"), "{seen}");
    let told = echo.seen_secrets();
    assert!(
        told.iter().any(|h| h.contains(token)),
        "the token never reached the server: {told:?}"
    );
    assert_clean(&seen, &[token]);
}

#[test]
fn dataverse_echoed_token_never_appears_in_any_output() {
    assert_echoed_token_never_appears(
        "DATAVERSE_API_KEY",
        "dataverse-echoed-token-0123456789",
        &[
            "provider=dataverse".into(),
            "url=ECHO_URL".into(),
            format!("doi={PID}"),
        ],
    );
}

#[test]
fn figshare_echoed_token_never_appears_in_any_output() {
    assert_echoed_token_never_appears(
        "FIGSHARE_API_KEY",
        "figshare-echoed-token-0123456789",
        &[
            "provider=figshare".into(),
            "api=ECHO_URL".into(),
            format!("article={}", support_figshare::ARTICLE),
        ],
    );
}

#[test]
fn github_echoed_token_never_appears_in_any_output() {
    assert_echoed_token_never_appears(
        "GITHUB_TOKEN",
        "ghp_githubechoedtoken0123456789",
        &[
            "provider=github".into(),
            "api=ECHO_URL".into(),
            format!("repo={}", support_github::GH_REPO),
            "tag=data".into(),
        ],
    );
}

/// A store, a get, and a rejected token against each token provider's fake.
fn token_provider_run(repo: &Repo, bad_repo: &Repo, init: &[&str]) -> String {
    let mut argv = vec![
        "initremote",
        "tp",
        "type=external",
        "externaltype=annexa",
        "encryption=none",
    ];
    argv.extend_from_slice(init);
    let mut seen = annex(repo, &argv);
    repo.write("a.txt", b"some content");
    repo.ok(&["git", "annex", "add", "a.txt"]);
    seen += &annex(repo, &["copy", "--to", "tp", "a.txt"]);
    seen += &annex(repo, &["drop", "a.txt"]);
    seen += &annex(repo, &["get", "a.txt"]);
    assert!(
        seen.contains("TRANSFER-SUCCESS"),
        "the run did not happen:\n{seen}"
    );
    let rejected = annex(bad_repo, &argv);
    assert!(rejected.contains("INITREMOTE-FAILURE"), "{rejected}");
    seen + &rejected
}

#[test]
fn figshare_token_never_appears_in_any_output() {
    use support_figshare::{FakeFigshare, ARTICLE, TOKEN as FS_TOKEN};
    let fake = FakeFigshare::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let bad = "figshare-bad-token-must-not-print";
    let repo = Repo::init(&tmp.path().join("repo")).env("FIGSHARE_API_KEY", FS_TOKEN);
    let bad_repo = Repo::init(&tmp.path().join("bad")).env("FIGSHARE_API_KEY", bad);
    let api = format!("api={}", fake.api());
    let article = format!("article={ARTICLE}");
    let seen = token_provider_run(&repo, &bad_repo, &["provider=figshare", &api, &article]);
    assert_clean(&seen, &[FS_TOKEN, bad]);
}

#[test]
fn github_token_never_appears_in_any_output() {
    use support_github::{FakeGithub, GH_REPO, GH_TOKEN};
    let fake = FakeGithub::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let bad = "ghp_badtokenmustnotprint0123";
    let repo = Repo::init(&tmp.path().join("repo")).env("GITHUB_TOKEN", GH_TOKEN);
    let bad_repo = Repo::init(&tmp.path().join("bad")).env("GITHUB_TOKEN", bad);
    let api = format!("api={}", fake.api());
    let repo_arg = format!("repo={GH_REPO}");
    let seen = token_provider_run(
        &repo,
        &bad_repo,
        &[
            "provider=github",
            &api,
            &repo_arg,
            "tag=data",
            "createrelease=yes",
        ],
    );
    assert_clean(&seen, &[GH_TOKEN, bad]);
}
