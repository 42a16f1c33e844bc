//! Protocol transcripts replayed against the engine (`annexa::remote::run`
//! over in-memory pipes) and against the built `git-annex-remote-annexa`
//! binary (piped stdin/stdout), with a scripted git-annex side.
//!
//! The scripted side is interactive, like git-annex: it reads what the
//! remote sends, answers its queries (GETCONFIG...) as they come, keeps
//! replies by job until a test asks for them (with ASYNC, one job's query
//! may come before or after another job's reply), and checks that every
//! line after an ASYNC handshake is framed. Each scenario runs twice, once
//! per side (`<scenario>::engine` and `<scenario>::binary`), over a
//! `provider=directory` remote in a temporary folder.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};

/// How long one step may take before the test fails (a hang, not slowness:
/// every scenario normally finishes well under a second).
const STEP: Duration = Duration::from_secs(5);

const UUID: &str = "5f6c0a2e-95b4-4f4e-9d55-7c1d6a1f0e11";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Engine,
    Binary,
}

enum Side {
    Engine(tokio::task::JoinHandle<Result<(), annexa::remote::SessionError>>),
    Binary {
        child: tokio::process::Child,
        stderr: tokio::task::JoinHandle<String>,
    },
}

/// How the remote ended.
#[derive(Debug)]
struct Exit {
    success: bool,
    /// The engine's error, or the binary's stderr.
    detail: String,
}

/// Which messages from the remote are queries git-annex answers.
fn is_query(body: &str) -> bool {
    let word = body.split(' ').next().unwrap_or("");
    matches!(
        word,
        "GETCONFIG"
            | "GETCREDS"
            | "GETUUID"
            | "GETGITDIR"
            | "GETGITREMOTENAME"
            | "GETSTATE"
            | "GETURLS"
            | "GETWANTED"
            | "DIRHASH"
            | "DIRHASH-LOWER"
    )
}

/// Messages from the remote that git-annex takes without answering.
fn is_notice(body: &str) -> bool {
    let word = body.split(' ').next().unwrap_or("");
    matches!(
        word,
        "PROGRESS"
            | "DEBUG"
            | "INFO"
            | "SETCONFIG"
            | "SETCREDS"
            | "SETSTATE"
            | "SETURLPRESENT"
            | "SETURLMISSING"
            | "SETWANTED"
    )
}

/// The scripted git-annex side of a session.
struct Peer {
    mode: Mode,
    input: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    output: Box<dyn AsyncBufRead + Send + Unpin>,
    side: Option<Side>,
    /// Set once ASYNC was negotiated: every message must then be framed.
    asynchronous: bool,
    /// Replies not yet asked for, with their job.
    replies: VecDeque<(Option<u64>, String)>,
    /// Notices and queries, in order, for assertions.
    seen: Vec<(Option<u64>, String)>,
    /// Queries not answered automatically while `hold` is set.
    held: VecDeque<(Option<u64>, String)>,
    hold: bool,
    /// Scripted answers by query text, used before the defaults.
    answers: HashMap<String, VecDeque<String>>,
    /// What GETCONFIG answers by default.
    config: HashMap<String, String>,
    /// Everything sent and received, for failure messages.
    transcript: Vec<String>,
    _dir: tempfile::TempDir,
    /// The directory remote's folder.
    store: PathBuf,
    /// A scratch folder (with a space in its name) for local files.
    work: PathBuf,
}

impl Peer {
    async fn start(mode: Mode) -> Peer {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = dir.path().join("remote store");
        let work = dir.path().join("work dir");
        std::fs::create_dir_all(&store).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        let (input, output, side): (
            Box<dyn AsyncWrite + Send + Unpin>,
            Box<dyn AsyncBufRead + Send + Unpin>,
            Side,
        ) = match mode {
            Mode::Engine => {
                let (to_remote, remote_in) = tokio::io::duplex(1 << 16);
                let (remote_out, from_remote) = tokio::io::duplex(1 << 16);
                let task = tokio::spawn(annexa::remote::run(BufReader::new(remote_in), remote_out));
                (
                    Box::new(to_remote),
                    Box::new(BufReader::new(from_remote)),
                    Side::Engine(task),
                )
            }
            Mode::Binary => {
                let mut child =
                    tokio::process::Command::new(env!("CARGO_BIN_EXE_git-annex-remote-annexa"))
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .env_remove("ANNEXA_NO_ASYNC")
                        .env("ANNEXA_LOG", "warn")
                        .kill_on_drop(true)
                        .spawn()
                        .expect("start git-annex-remote-annexa");
                let stdin = child.stdin.take().unwrap();
                let stdout = child.stdout.take().unwrap();
                let mut stderr = child.stderr.take().unwrap();
                let stderr = tokio::spawn(async move {
                    let mut text = String::new();
                    let _ = stderr.read_to_string(&mut text).await;
                    text
                });
                (
                    Box::new(stdin),
                    Box::new(BufReader::new(stdout)),
                    Side::Binary { child, stderr },
                )
            }
        };
        let mut peer = Peer {
            mode,
            input: Some(input),
            output,
            side: Some(side),
            asynchronous: false,
            replies: VecDeque::new(),
            seen: Vec::new(),
            held: VecDeque::new(),
            hold: false,
            answers: HashMap::new(),
            config: HashMap::from([
                ("provider".to_string(), "directory".to_string()),
                ("directory".to_string(), store.display().to_string()),
            ]),
            transcript: Vec::new(),
            _dir: dir,
            store,
            work,
        };
        let first = peer.read_line().await;
        assert_eq!(first.as_deref(), Some("VERSION 2"), "{}", peer.dump());
        peer
    }

    fn dump(&self) -> String {
        format!(
            "[{:?}] transcript so far:\n  {}",
            self.mode,
            self.transcript.join("\n  ")
        )
    }

    async fn send_bytes(&mut self, bytes: &[u8]) {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        self.transcript.push(format!("> {}", shown.trim_end()));
        let input = self.input.as_mut().expect("stdin already closed");
        // A remote that already quit may have closed its end: that shows
        // in what it sent and how it exited, which the test checks.
        let _ = input.write_all(bytes).await;
        let _ = input.flush().await;
    }

    async fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\n").as_bytes()).await;
    }

    async fn send_job(&mut self, job: u64, body: &str) {
        self.send(&format!("J {job} {body}")).await;
    }

    /// Sends `body` on `job` (framed) or unframed when `job` is `None`.
    async fn send_on(&mut self, job: Option<u64>, body: &str) {
        match job {
            Some(n) => self.send_job(n, body).await,
            None => self.send(body).await,
        }
    }

    /// The next raw line from the remote; `None` at end of output.
    async fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        let read = tokio::time::timeout(STEP, self.output.read_line(&mut line)).await;
        match read {
            Err(_) => panic!("the remote sent nothing for {STEP:?}\n{}", self.dump()),
            Ok(Err(e)) => panic!("reading from the remote: {e}\n{}", self.dump()),
            Ok(Ok(0)) => {
                self.transcript.push("< <EOF>".into());
                None
            }
            Ok(Ok(_)) => {
                assert!(
                    line.ends_with('\n'),
                    "line without newline {line:?}\n{}",
                    self.dump()
                );
                let line = line.trim_end_matches('\n').to_string();
                assert!(
                    !line.contains('\r'),
                    "carriage return in {line:?}\n{}",
                    self.dump()
                );
                self.transcript.push(format!("< {line}"));
                Some(line)
            }
        }
    }

    /// Reads one line and files it: answers queries, keeps replies.
    async fn pump(&mut self) {
        let Some(line) = self.read_line().await else {
            panic!("the remote closed its output early\n{}", self.dump());
        };
        let (job, body) = if self.asynchronous && !line.starts_with("ERROR") {
            let Some(rest) = line.strip_prefix("J ") else {
                panic!("unframed line after ASYNC: {line:?}\n{}", self.dump());
            };
            let (n, body) = rest.split_once(' ').unwrap_or_else(|| {
                panic!("framed line without a message: {line:?}\n{}", self.dump())
            });
            let n: u64 = n
                .parse()
                .unwrap_or_else(|_| panic!("bad job number in {line:?}\n{}", self.dump()));
            (Some(n), body.to_string())
        } else {
            (None, line)
        };
        if is_notice(&body) {
            self.seen.push((job, body));
        } else if is_query(&body) {
            self.seen.push((job, body.clone()));
            if self.hold {
                self.held.push_back((job, body));
            } else {
                self.answer(job, &body).await;
            }
        } else {
            self.replies.push_back((job, body));
        }
    }

    /// The answer git-annex would give to a query.
    fn answer_for(&mut self, query: &str) -> String {
        if let Some(scripted) = self.answers.get_mut(query).and_then(VecDeque::pop_front) {
            return scripted;
        }
        let (word, rest) = query.split_once(' ').unwrap_or((query, ""));
        match word {
            "GETCONFIG" => format!(
                "VALUE {}",
                self.config.get(rest).cloned().unwrap_or_default()
            ),
            "GETCREDS" => "CREDS  ".into(),
            "GETUUID" => format!("VALUE {UUID}"),
            "GETGITDIR" => format!("VALUE {}", self.work.join(".git").display()),
            "GETGITREMOTENAME" => "VALUE annexa".into(),
            "GETURLS" => "VALUE ".into(),
            "DIRHASH" => "VALUE Xx/Yy/".into(),
            "DIRHASH-LOWER" => "VALUE abc/def/".into(),
            _ => "VALUE ".into(),
        }
    }

    /// Answers a query the way git-annex does: VALUE/CREDS framed with the
    /// job, ERROR unframed (git-annex sends it as an exceptional message).
    async fn answer(&mut self, job: Option<u64>, query: &str) {
        let answer = self.answer_for(query);
        if answer.starts_with("ERROR") {
            self.send(&answer).await;
        } else {
            self.send_on(job, &answer).await;
        }
    }

    /// Scripts the next answer to `query` (e.g. `ERROR nope`).
    fn script(&mut self, query: &str, answer: &str) {
        self.answers
            .entry(query.to_string())
            .or_default()
            .push_back(answer.to_string());
    }

    /// Waits for `query` from `job` while holding queries back; it is
    /// answered by [`Peer::release`] or [`Peer::answer_held`].
    async fn held_query(&mut self, job: Option<u64>, query: &str) {
        self.hold = true;
        while !self.held.iter().any(|(j, q)| *j == job && q == query) {
            self.pump().await;
        }
    }

    /// Answers one held query with the raw line `answer`.
    async fn answer_held(&mut self, job: Option<u64>, query: &str, answer: &str) {
        let i = self
            .held
            .iter()
            .position(|(j, q)| *j == job && q == query)
            .unwrap_or_else(|| panic!("{query} of job {job:?} is not held\n{}", self.dump()));
        self.held.remove(i);
        self.send(answer).await;
    }

    /// Answers every held query and goes back to answering automatically.
    async fn release(&mut self) {
        self.hold = false;
        while let Some((job, query)) = self.held.pop_front() {
            self.answer(job, &query).await;
        }
    }

    /// The next reply of `job`, whatever other jobs send meanwhile.
    async fn reply(&mut self, job: Option<u64>) -> String {
        loop {
            if let Some(i) = self.replies.iter().position(|(j, _)| *j == job) {
                return self.replies.remove(i).unwrap().1;
            }
            self.pump().await;
        }
    }

    async fn expect(&mut self, job: Option<u64>, expected: &str) {
        let got = self.reply(job).await;
        assert_eq!(got, expected, "job {job:?}\n{}", self.dump());
    }

    /// Expects a reply starting with `prefix`; returns the rest.
    async fn expect_prefix(&mut self, job: Option<u64>, prefix: &str) -> String {
        let got = self.reply(job).await;
        match got.strip_prefix(prefix) {
            Some(rest) => rest.to_string(),
            None => panic!(
                "job {job:?}: expected {prefix:?}..., got {got:?}\n{}",
                self.dump()
            ),
        }
    }

    /// Sends a request on `job` and expects exactly `expected` back.
    async fn call(&mut self, job: Option<u64>, request: &str, expected: &str) {
        self.send_on(job, request).await;
        self.expect(job, expected).await;
    }

    /// The EXTENSIONS handshake; returns what the remote chose.
    async fn handshake(&mut self, offered: &str) -> Vec<String> {
        self.send(&format!("EXTENSIONS {offered}")).await;
        let line = self
            .read_line()
            .await
            .unwrap_or_else(|| panic!("no EXTENSIONS reply\n{}", self.dump()));
        let chosen = line
            .strip_prefix("EXTENSIONS")
            .unwrap_or_else(|| panic!("expected EXTENSIONS, got {line:?}\n{}", self.dump()));
        let chosen: Vec<String> = chosen.split_whitespace().map(str::to_string).collect();
        self.asynchronous = chosen.iter().any(|e| e == "ASYNC");
        chosen
    }

    async fn prepare(&mut self, job: Option<u64>) {
        self.call(job, "PREPARE", "PREPARE-SUCCESS").await;
    }

    /// Closes stdin, reads what is left, and waits for the remote to end.
    async fn finish(mut self) -> (Exit, Vec<String>) {
        self.input = None;
        self.drain_and_wait().await
    }

    /// Reads to the end of output with stdin still open (the remote must
    /// end by itself), then waits for it.
    async fn drain_and_wait(&mut self) -> (Exit, Vec<String>) {
        let mut rest = Vec::new();
        while let Some(line) = self.read_line().await {
            rest.push(line);
        }
        let exit = match self.side.take().unwrap() {
            Side::Engine(task) => match tokio::time::timeout(STEP, task).await {
                Err(_) => panic!("the engine did not end\n{}", self.dump()),
                Ok(joined) => match joined.expect("engine task panicked") {
                    Ok(()) => Exit {
                        success: true,
                        detail: String::new(),
                    },
                    Err(e) => Exit {
                        success: false,
                        detail: e.to_string(),
                    },
                },
            },
            Side::Binary { mut child, stderr } => {
                let status = match tokio::time::timeout(STEP, child.wait()).await {
                    Err(_) => panic!("the binary did not exit\n{}", self.dump()),
                    Ok(status) => status.expect("wait for the binary"),
                };
                let detail = stderr.await.unwrap_or_default();
                assert!(
                    status.code().is_some(),
                    "the binary was killed by a signal ({status:?}): {detail}\n{}",
                    self.dump()
                );
                Exit {
                    success: status.success(),
                    detail,
                }
            }
        };
        (exit, rest)
    }

    /// Expects the remote to end by itself with an ERROR line that contains
    /// `needle`, and a failure exit, without stdin being closed.
    async fn expect_fatal(mut self, needle: &str) -> String {
        let (exit, rest) = self.drain_and_wait().await;
        // Replies of other jobs may precede it; the ERROR is the last word.
        let error = rest
            .iter()
            .rev()
            .find(|l| l.starts_with("ERROR "))
            .unwrap_or_else(|| panic!("no ERROR line in {rest:?}\n{}", self.dump()))
            .clone();
        assert!(
            error.contains(needle),
            "{error:?} does not mention {needle:?}\n{}",
            self.dump()
        );
        assert_eq!(
            rest.last(),
            Some(&error),
            "ERROR must be the last line\n{}",
            self.dump()
        );
        assert!(
            !exit.success,
            "a protocol error must end with a failure exit\n{}",
            self.dump()
        );
        // The engine's error, or the binary's stderr, says it too.
        assert!(
            exit.detail.contains("protocol error"),
            "{:?}\n{}",
            exit.detail,
            self.dump()
        );
        error
    }

    /// A local file in the work folder.
    fn local(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    fn write_local(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.local(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Files named `name` anywhere under the remote's folder.
    fn stored(&self, name: &str) -> Vec<PathBuf> {
        walkdir::WalkDir::new(&self.store)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && e.file_name() == name)
            .map(|e| e.into_path())
            .collect()
    }
}

fn content(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("utf-8 temp path").to_string()
}

/// Runs each scenario against both sides.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn engine() {
                    super::$name(super::Mode::Engine).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn binary() {
                    super::$name(super::Mode::Binary).await
                }
            }
        )*
    };
}

both!(
    handshake_answers_only_offered_extensions,
    handshake_with_everything_offered,
    handshake_with_nothing_offered,
    old_style_session_without_extensions,
    store_retrieve_remove_file_names_with_spaces,
    progress_is_absolute_and_framed,
    configs_and_info_blocks,
    export_sequence,
    export_paths_that_leave_the_tree_are_refused,
    import_sequence,
    async_jobs_interleave,
    async_export_names_are_per_job,
    unknown_requests_get_unsupported,
    getconfig_answered_error_fails_prepare,
    async_error_answer_goes_to_the_waiting_job,
    async_error_answer_reaches_the_oldest_waiting_job,
    async_error_answer_skips_a_job_already_answered,
    requests_before_a_successful_prepare_fail_cleanly,
    transfer_with_missing_parameters_is_fatal,
    bad_job_number_is_fatal,
    unframed_request_after_async_is_fatal,
    malformed_framed_request_is_fatal,
    bad_direction_is_fatal,
    empty_line_is_fatal,
    control_character_in_a_line_is_fatal,
    non_utf8_line_is_fatal,
    overlong_line_is_fatal,
    second_extensions_is_fatal,
    request_instead_of_an_answer_is_fatal,
    fatal_error_does_not_wait_for_busy_jobs,
    stdin_closed_right_away_exits_cleanly,
    stdin_closed_after_a_session_exits_cleanly,
    stdin_closed_while_a_query_waits_exits_cleanly,
    git_annex_error_ends_the_session,
);

// ------------------------------------------------------------- handshake

async fn handshake_answers_only_offered_extensions(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    let chosen = peer.handshake("INFO ASYNC").await;
    assert_eq!(chosen, ["INFO", "ASYNC"], "{}", peer.dump());
    // Jobs work after it, so the answer was taken seriously.
    peer.prepare(Some(1)).await;
    let (exit, rest) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
    assert!(rest.is_empty(), "{rest:?}");
}

async fn handshake_with_everything_offered(mode: Mode) {
    let offered = [
        "INFO",
        "ASYNC",
        "GETGITREMOTENAME",
        "UNAVAILABLERESPONSE",
        "TRANSFER-RETRIEVE-URL",
        "CHECKPRESENT-URL",
        "DELEGATE",
        "SOMETHING-FROM-THE-FUTURE",
    ];
    let mut peer = Peer::start(mode).await;
    let chosen = peer.handshake(&offered.join(" ")).await;
    let expected: Vec<&str> = offered
        .iter()
        .copied()
        .filter(|e| annexa::remote::SUPPORTED_EXTENSIONS.contains(e))
        .collect();
    assert_eq!(chosen, expected);
    for must in ["INFO", "ASYNC", "GETGITREMOTENAME"] {
        assert!(
            chosen.iter().any(|c| c == must),
            "{must} not taken: {chosen:?}"
        );
    }
    for never in ["DELEGATE", "SOMETHING-FROM-THE-FUTURE"] {
        assert!(
            !chosen.iter().any(|c| c == never),
            "{never} taken: {chosen:?}"
        );
    }
    let (exit, _) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
}

async fn handshake_with_nothing_offered(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.send("EXTENSIONS").await;
    assert_eq!(peer.read_line().await.as_deref(), Some("EXTENSIONS"));
    // Not ASYNC: the next request and its reply are unframed.
    peer.prepare(None).await;
    let (exit, _) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
}

async fn old_style_session_without_extensions(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    // An old git-annex sends no EXTENSIONS: the first line is a request.
    peer.call(None, "EXPORTSUPPORTED", "EXPORTSUPPORTED-SUCCESS")
        .await;
    peer.prepare(None).await;
    let src = peer.write_local("old style.bin", &content(1, 5000));
    peer.call(
        None,
        &format!("TRANSFER STORE WORM-m1--old {}", path_str(&src)),
        "TRANSFER-SUCCESS STORE WORM-m1--old",
    )
    .await;
    peer.call(
        None,
        "CHECKPRESENT WORM-m1--old",
        "CHECKPRESENT-SUCCESS WORM-m1--old",
    )
    .await;
    let seen_info = peer.seen.iter().any(|(_, m)| m.starts_with("INFO "));
    assert!(
        !seen_info,
        "INFO sent without the extension\n{}",
        peer.dump()
    );
    let (exit, rest) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
    assert!(rest.is_empty(), "{rest:?}");
}

// --------------------------------------------------------------- keys

async fn store_retrieve_remove_file_names_with_spaces(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO GETGITREMOTENAME").await;
    peer.prepare(None).await;

    let key = "SHA256E-s70000--9f2c5e.this-is-a-test-key";
    let data = content(7, 70_000);
    let src = peer.write_local(" my file  with spaces .dat", &data);
    assert!(path_str(&src).contains("work dir/ my file  with spaces .dat"));

    peer.call(
        None,
        &format!("CHECKPRESENT {key}"),
        &format!("CHECKPRESENT-FAILURE {key}"),
    )
    .await;
    peer.call(
        None,
        &format!("REMOVE {key}"),
        &format!("REMOVE-SUCCESS {key}"),
    )
    .await;
    peer.call(
        None,
        &format!("TRANSFER STORE {key} {}", path_str(&src)),
        &format!("TRANSFER-SUCCESS STORE {key}"),
    )
    .await;
    let stored = peer.stored(key);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(std::fs::read(&stored[0]).unwrap(), data);
    peer.call(
        None,
        &format!("CHECKPRESENT {key}"),
        &format!("CHECKPRESENT-SUCCESS {key}"),
    )
    .await;
    // Storing again succeeds.
    peer.call(
        None,
        &format!("TRANSFER STORE {key} {}", path_str(&src)),
        &format!("TRANSFER-SUCCESS STORE {key}"),
    )
    .await;

    let dest = peer.local("got  back\tfile.dat");
    peer.call(
        None,
        &format!("TRANSFER RETRIEVE {key} {}", path_str(&dest)),
        &format!("TRANSFER-SUCCESS RETRIEVE {key}"),
    )
    .await;
    assert_eq!(std::fs::read(&dest).unwrap(), data);

    peer.call(
        None,
        &format!("WHEREIS {key}"),
        &format!("WHEREIS-SUCCESS {}", path_str(&stored[0])),
    )
    .await;
    peer.call(
        None,
        &format!("REMOVE {key}"),
        &format!("REMOVE-SUCCESS {key}"),
    )
    .await;
    assert!(peer.stored(key).is_empty());
    peer.call(
        None,
        &format!("CHECKPRESENT {key}"),
        &format!("CHECKPRESENT-FAILURE {key}"),
    )
    .await;

    // Failures carry the direction, the key and a message.
    let gone = peer.local("never there");
    peer.send(&format!("TRANSFER RETRIEVE {key} {}", path_str(&gone)))
        .await;
    let why = peer
        .expect_prefix(None, &format!("TRANSFER-FAILURE RETRIEVE {key} "))
        .await;
    assert!(!why.trim().is_empty());
    peer.send(&format!("TRANSFER STORE {key} {}", path_str(&gone)))
        .await;
    let why = peer
        .expect_prefix(None, &format!("TRANSFER-FAILURE STORE {key} "))
        .await;
    assert!(!why.trim().is_empty());
    assert!(peer.stored(key).is_empty(), "a failed store left the key");

    let (exit, rest) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
    assert!(rest.is_empty(), "{rest:?}");
}

async fn progress_is_absolute_and_framed(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("ASYNC").await;
    peer.prepare(Some(1)).await;
    let size = 3 * 1024 * 1024 + 17;
    let src = peer.write_local("big one", &content(3, size));
    peer.call(
        Some(4),
        &format!("TRANSFER STORE WORM-m1--big {}", path_str(&src)),
        "TRANSFER-SUCCESS STORE WORM-m1--big",
    )
    .await;
    let progress: Vec<u64> = peer
        .seen
        .iter()
        .filter_map(|(job, m)| {
            let n = m.strip_prefix("PROGRESS ")?;
            assert_eq!(*job, Some(4), "PROGRESS on the wrong job");
            Some(n.parse().expect("PROGRESS number"))
        })
        .collect();
    assert!(
        !progress.is_empty(),
        "no PROGRESS for {size} bytes\n{}",
        peer.dump()
    );
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(*progress.last().unwrap() <= size as u64, "{progress:?}");
    assert!(*progress.last().unwrap() >= 2 * 1024 * 1024, "{progress:?}");
    let (exit, _) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
}

async fn configs_and_info_blocks(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO").await;
    // LISTCONFIGS comes before PREPARE.
    peer.send("LISTCONFIGS").await;
    let mut configs = Vec::new();
    loop {
        let line = peer.reply(None).await;
        if line == "CONFIGEND" {
            break;
        }
        let rest = line
            .strip_prefix("CONFIG ")
            .unwrap_or_else(|| panic!("{line:?} in the CONFIG block"));
        let (name, description) = rest.split_once(' ').expect("CONFIG name description");
        assert!(!description.trim().is_empty(), "{line:?}");
        configs.push(name.to_string());
    }
    for name in ["provider", "directory"] {
        assert!(
            configs.iter().any(|c| c == name),
            "{name} missing: {configs:?}"
        );
    }
    peer.prepare(None).await;
    peer.send("GETINFO").await;
    peer.expect(None, "INFOFIELD directory").await;
    peer.expect(
        None,
        &format!("INFOVALUE {}", path_str(&peer.store.clone())),
    )
    .await;
    peer.expect(None, "INFOEND").await;
    peer.call(None, "GETCOST", "COST 100").await;
    peer.call(None, "GETAVAILABILITY", "AVAILABILITY LOCAL")
        .await;
    peer.call(None, "CLAIMURL https://example.org/x", "CLAIMURL-FAILURE")
        .await;
    peer.send("CHECKURL https://example.org/x").await;
    peer.expect_prefix(None, "CHECKURL-FAILURE ").await;
    let (exit, _) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
}

// ---------------------------------------------------------------- export

async fn export_sequence(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO").await;
    // EXPORTSUPPORTED may come before PREPARE.
    peer.call(None, "EXPORTSUPPORTED", "EXPORTSUPPORTED-SUCCESS")
        .await;
    peer.prepare(None).await;
    let key = "SHA256E-s999--abc.txt";
    let data = content(9, 999);
    let src = peer.write_local("export source", &data);
    let name = "dir one/file a.txt";
    let renamed = "dir two/renamed  b.txt";

    // EXPORT gets no reply of its own.
    peer.send(&format!("EXPORT {name}")).await;
    peer.call(
        None,
        &format!("TRANSFEREXPORT STORE {key} {}", path_str(&src)),
        &format!("TRANSFER-SUCCESS STORE {key}"),
    )
    .await;
    assert_eq!(std::fs::read(peer.store.join(name)).unwrap(), data);
    // Issue 22: a key-named location of an export remote does not exist
    // (the file is stored under its path): WHEREIS names none.
    peer.config.insert("exporttree".into(), "yes".into());
    peer.call(None, &format!("WHEREIS {key}"), "WHEREIS-FAILURE")
        .await;
    peer.config.remove("exporttree");
    peer.send(&format!("EXPORT {name}")).await;
    peer.call(
        None,
        &format!("CHECKPRESENTEXPORT {key}"),
        &format!("CHECKPRESENT-SUCCESS {key}"),
    )
    .await;
    peer.send(&format!("EXPORT {name}")).await;
    peer.call(
        None,
        &format!("RENAMEEXPORT {key} {renamed}"),
        &format!("RENAMEEXPORT-SUCCESS {key}"),
    )
    .await;
    assert!(!peer.store.join(name).exists());
    assert_eq!(std::fs::read(peer.store.join(renamed)).unwrap(), data);

    let dest = peer.local("exported back");
    peer.send(&format!("EXPORT {renamed}")).await;
    peer.call(
        None,
        &format!("TRANSFEREXPORT RETRIEVE {key} {}", path_str(&dest)),
        &format!("TRANSFER-SUCCESS RETRIEVE {key}"),
    )
    .await;
    assert_eq!(std::fs::read(&dest).unwrap(), data);

    peer.call(
        None,
        "REMOVEEXPORTDIRECTORY dir one",
        "REMOVEEXPORTDIRECTORY-SUCCESS",
    )
    .await;
    assert!(!peer.store.join("dir one").exists());
    // Removing a directory that is not there is not a failure.
    peer.call(
        None,
        "REMOVEEXPORTDIRECTORY dir one",
        "REMOVEEXPORTDIRECTORY-SUCCESS",
    )
    .await;

    peer.send(&format!("EXPORT {renamed}")).await;
    peer.call(
        None,
        &format!("REMOVEEXPORT {key}"),
        &format!("REMOVE-SUCCESS {key}"),
    )
    .await;
    assert!(!peer.store.join(renamed).exists());
    peer.send(&format!("EXPORT {renamed}")).await;
    peer.call(
        None,
        &format!("CHECKPRESENTEXPORT {key}"),
        &format!("CHECKPRESENT-FAILURE {key}"),
    )
    .await;

    // Without EXPORT first: a failure for that request, not a crash.
    peer.send(&format!("TRANSFEREXPORT STORE {key} {}", path_str(&src)))
        .await;
    let why = peer
        .expect_prefix(None, &format!("TRANSFER-FAILURE STORE {key} "))
        .await;
    assert!(why.contains("EXPORT"), "{why}");
    let (exit, _) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
}

/// Paths that would leave the tree, or mean another object, are refused by
/// the runtime before any provider sees them (`ExportPath`, checked once
/// for every provider), and nothing is written outside the remote's folder.
async fn export_paths_that_leave_the_tree_are_refused(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO ASYNC").await;
    peer.prepare(Some(1)).await;
    let key = "SHA256E-s10--abc.txt";
    let src = peer.write_local("source", &content(4, 10));
    std::fs::create_dir_all(peer.store.join("tree")).unwrap();
    let outside_before = files_outside(&peer);
    for bad in [
        "../escape.txt",
        "tree/../../escape.txt",
        "a//b.txt",
        "/abs.txt",
        "a/",
        "./a.txt",
        "a/./b.txt",
    ] {
        peer.send_job(1, &format!("EXPORT {bad}")).await;
        let store = format!("TRANSFEREXPORT STORE {key} {}", path_str(&src));
        peer.send_job(1, &store).await;
        let why = peer
            .expect_prefix(Some(1), &format!("TRANSFER-FAILURE STORE {key} "))
            .await;
        assert!(why.contains("not a plain relative path"), "{bad}: {why}");
        peer.send_job(1, &format!("EXPORT {bad}")).await;
        peer.send_job(1, &format!("CHECKPRESENTEXPORT {key}")).await;
        peer.expect_prefix(Some(1), &format!("CHECKPRESENT-UNKNOWN {key} "))
            .await;
        peer.send_job(1, &format!("EXPORT {bad}")).await;
        peer.send_job(1, &format!("REMOVEEXPORT {key}")).await;
        peer.expect_prefix(Some(1), &format!("REMOVE-FAILURE {key} "))
            .await;
        peer.send_job(1, "EXPORT tree/a.txt").await;
        peer.call(
            Some(1),
            &format!("RENAMEEXPORT {key} {bad}"),
            &format!("RENAMEEXPORT-FAILURE {key}"),
        )
        .await;
        peer.send_job(1, &format!("IMPORT {bad}")).await;
        let dest = peer.local("imported");
        peer.send_job(1, &format!("RETRIEVEIMPORT {}", path_str(&dest)))
            .await;
        peer.expect_prefix(Some(1), "RETRIEVEIMPORT-FAILURE ").await;
        peer.send_job(1, &format!("IMPORT {bad}")).await;
        peer.send_job(1, &format!("CHECKPRESENTIMPORT {key}")).await;
        peer.expect_prefix(Some(1), &format!("CHECKPRESENT-UNKNOWN {key} "))
            .await;
    }
    peer.call(
        Some(1),
        "REMOVEEXPORTDIRECTORY ../tree",
        "REMOVEEXPORTDIRECTORY-FAILURE",
    )
    .await;
    assert!(peer.store.join("tree").is_dir());
    assert_eq!(files_outside(&peer), outside_before);
    let (exit, _) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
}

/// Every file beside the remote's folder (the tests' scratch space).
fn files_outside(peer: &Peer) -> Vec<PathBuf> {
    let parent = peer.store.parent().unwrap();
    let mut found: Vec<PathBuf> = walkdir::WalkDir::new(parent)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.path().starts_with(&peer.store))
        .map(|e| e.path().to_path_buf())
        .collect();
    found.sort();
    found
}

async fn import_sequence(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO ASYNC IMPORTKEY").await;
    // IMPORTSUPPORTED may come before PREPARE.
    peer.call(Some(1), "IMPORTSUPPORTED", "IMPORTSUPPORTED-SUCCESS")
        .await;
    peer.prepare(Some(1)).await;
    let data = content(3, 70_000);
    std::fs::create_dir_all(peer.store.join("sub 1/anat")).unwrap();
    std::fs::write(peer.store.join("sub 1/anat/t1 w.nii.gz"), &data).unwrap();
    std::fs::write(peer.store.join("README"), b"read me").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", peer.store.join("escape")).unwrap();
    std::fs::create_dir_all(peer.store.join("sub 1/.GIT")).unwrap();
    std::fs::write(peer.store.join("sub 1/.GIT/config"), b"[core]").unwrap();

    // The listing: pairs of lines on the job that asked, then SUCCESS.
    peer.send_job(1, "LISTIMPORTABLECONTENTS").await;
    let mut listed = Vec::new();
    loop {
        let line = peer.reply(Some(1)).await;
        if line == "LISTIMPORTABLECONTENTS-SUCCESS" {
            break;
        }
        let (size, name) = line
            .strip_prefix("IMPORTABLECONTENT ")
            .and_then(|r| r.split_once(' '))
            .unwrap_or_else(|| panic!("{line}\n{}", peer.dump()));
        let id = peer.reply(Some(1)).await;
        let id = id
            .strip_prefix("IMPORTABLECONTENTIDENTIFIER ")
            .unwrap()
            .to_string();
        listed.push((name.to_string(), size.parse::<u64>().unwrap(), id));
    }
    let names: Vec<&str> = listed.iter().map(|(n, ..)| n.as_str()).collect();
    assert_eq!(
        names,
        ["README", "sub 1/anat/t1 w.nii.gz"],
        "neither a symlink nor a .git folder is listed"
    );
    let (_, size, id) = &listed[1];
    assert_eq!(*size, 70_000);

    // No published checksum in a folder: the content is hashed.
    peer.send_job(1, "IMPORT sub 1/anat/t1 w.nii.gz").await;
    peer.send_job(1, &format!("IMPORTKEY {size} {id}")).await;
    let key = peer.expect_prefix(Some(1), "IMPORTKEY-SUCCESS ").await;
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&data))
    };
    assert_eq!(key, format!("SHA256E-s70000--{sha}.nii.gz"));

    let dest = peer.local("imported");
    peer.send_job(2, "IMPORT sub 1/anat/t1 w.nii.gz").await;
    peer.send_job(2, &format!("RETRIEVEIMPORT {}", path_str(&dest)))
        .await;
    peer.expect(Some(2), "RETRIEVEIMPORT-SUCCESS").await;
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    peer.send_job(2, "IMPORT sub 1/anat/t1 w.nii.gz").await;
    peer.call(
        Some(2),
        &format!("CHECKPRESENTIMPORT {key}"),
        &format!("CHECKPRESENT-SUCCESS {key}"),
    )
    .await;
    // Rewritten with other bytes of the same size: no longer that key.
    std::fs::write(
        peer.store.join("sub 1/anat/t1 w.nii.gz"),
        content(4, 70_000),
    )
    .unwrap();
    peer.send_job(2, "IMPORT sub 1/anat/t1 w.nii.gz").await;
    peer.call(
        Some(2),
        &format!("CHECKPRESENTIMPORT {key}"),
        &format!("CHECKPRESENT-FAILURE {key}"),
    )
    .await;
    // Through the symlink: nothing.
    peer.send_job(2, "IMPORT escape").await;
    peer.send_job(2, &format!("RETRIEVEIMPORT {}", path_str(&dest)))
        .await;
    let why = peer.expect_prefix(Some(2), "RETRIEVEIMPORT-FAILURE ").await;
    assert!(why.contains("escape"), "{why}");
    // A content identifier this remote never listed, and no IMPORT first.
    peer.send_job(1, "IMPORT README").await;
    peer.send_job(1, "IMPORTKEY 7 etag-from-elsewhere").await;
    peer.expect_prefix(Some(1), "IMPORTKEY-FAILURE ").await;
    peer.send_job(1, "IMPORTKEY 7 none::x").await;
    let why = peer.expect_prefix(Some(1), "IMPORTKEY-FAILURE ").await;
    assert!(why.contains("IMPORT"), "{why}");
    let (exit, _) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
}

async fn async_export_names_are_per_job(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO ASYNC").await;
    peer.prepare(Some(1)).await;
    let a = peer.write_local("a", b"content of a");
    let b = peer.write_local("b", b"content of b");
    peer.send_job(1, "EXPORT tree/one file").await;
    peer.send_job(2, "EXPORT tree/other file").await;
    peer.send_job(
        2,
        &format!("TRANSFEREXPORT STORE WORM-m1--KB {}", path_str(&b)),
    )
    .await;
    peer.send_job(
        1,
        &format!("TRANSFEREXPORT STORE WORM-m1--KA {}", path_str(&a)),
    )
    .await;
    peer.expect(Some(1), "TRANSFER-SUCCESS STORE WORM-m1--KA")
        .await;
    peer.expect(Some(2), "TRANSFER-SUCCESS STORE WORM-m1--KB")
        .await;
    assert_eq!(
        std::fs::read(peer.store.join("tree/one file")).unwrap(),
        b"content of a"
    );
    assert_eq!(
        std::fs::read(peer.store.join("tree/other file")).unwrap(),
        b"content of b"
    );
    let (exit, _) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
}

// ----------------------------------------------------------------- async

async fn async_jobs_interleave(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO ASYNC GETGITREMOTENAME").await;

    // Job 1 prepares; its GETCONFIG is held unanswered while job 2 is
    // served: the jobs really run side by side.
    peer.send_job(1, "PREPARE").await;
    peer.held_query(Some(1), "GETCONFIG provider").await;
    peer.send_job(2, "LISTCONFIGS").await;
    loop {
        let line = peer.reply(Some(2)).await;
        if line == "CONFIGEND" {
            break;
        }
        assert!(line.starts_with("CONFIG "), "{line:?}");
    }
    // EXPORTSUPPORTED asks which provider this is: job 2's own query.
    peer.send_job(2, "EXPORTSUPPORTED").await;
    peer.held_query(Some(2), "GETCONFIG provider").await;
    peer.answer_held(Some(2), "GETCONFIG provider", "J 2 VALUE directory")
        .await;
    peer.expect(Some(2), "EXPORTSUPPORTED-SUCCESS").await;
    assert!(
        peer.replies.iter().all(|(j, _)| *j != Some(1)),
        "job 1 replied before its query was answered\n{}",
        peer.dump()
    );
    peer.release().await;
    peer.expect(Some(1), "PREPARE-SUCCESS").await;

    // Three transfers at once, answered on their own jobs.
    let files: Vec<(u64, String, Vec<u8>, PathBuf)> = (1..=3)
        .map(|j| {
            let data = content(j as u8, 200_000 * j as usize);
            let path = peer.write_local(&format!("file {j} with space"), &data);
            (j, format!("SHA256E-s{}--k{j}", data.len()), data, path)
        })
        .collect();
    for (j, key, _, path) in &files {
        peer.send_job(*j, &format!("TRANSFER STORE {key} {}", path_str(path)))
            .await;
    }
    for (j, key, _, _) in files.iter().rev() {
        peer.expect(Some(*j), &format!("TRANSFER-SUCCESS STORE {key}"))
            .await;
    }
    for (j, key, data, _) in &files {
        let dest = peer.local(&format!("back {j}"));
        peer.send_job(
            *j + 10,
            &format!("TRANSFER RETRIEVE {key} {}", path_str(&dest)),
        )
        .await;
        peer.send_job(*j + 20, &format!("CHECKPRESENT {key}")).await;
        peer.expect(Some(*j + 20), &format!("CHECKPRESENT-SUCCESS {key}"))
            .await;
        peer.expect(Some(*j + 10), &format!("TRANSFER-SUCCESS RETRIEVE {key}"))
            .await;
        assert_eq!(&std::fs::read(&dest).unwrap(), data);
    }
    // A job slot is reused for the next request.
    peer.call(
        Some(1),
        "REMOVE SHA256E-s200000--k1",
        "REMOVE-SUCCESS SHA256E-s200000--k1",
    )
    .await;
    peer.call(
        Some(1),
        "CHECKPRESENT SHA256E-s200000--k1",
        "CHECKPRESENT-FAILURE SHA256E-s200000--k1",
    )
    .await;
    let (exit, rest) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
    assert!(rest.is_empty(), "{rest:?}");
}

async fn unknown_requests_get_unsupported(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO").await;
    for request in ["GETORDERED", "SOMETHING-NEW with params", "prepare"] {
        peer.call(None, request, "UNSUPPORTED-REQUEST").await;
    }
    peer.prepare(None).await;
    peer.call(None, "LISTEXPORTABLETHINGS", "UNSUPPORTED-REQUEST")
        .await;
    let (exit, _) = peer.finish().await;
    assert!(exit.success, "{exit:?}");

    let mut peer = Peer::start(mode).await;
    peer.handshake("ASYNC").await;
    peer.call(Some(5), "GETORDERED", "UNSUPPORTED-REQUEST")
        .await;
    peer.call(Some(6), "FUTURE-REQUEST a b c", "UNSUPPORTED-REQUEST")
        .await;
    peer.prepare(Some(5)).await;
    let (exit, _) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
}

// ------------------------------------------------------ queries refused

async fn getconfig_answered_error_fails_prepare(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO").await;
    peer.script("GETCONFIG provider", "ERROR nope");
    peer.send("PREPARE").await;
    let why = peer.expect_prefix(None, "PREPARE-FAILURE ").await;
    assert!(why.contains("nope"), "{why}");
    // The remote is still usable: a second PREPARE answered normally works.
    peer.prepare(None).await;
    // INITREMOTE with a refused GETCONFIG fails too, with the reason.
    peer.script("GETCONFIG provider", "ERROR not today");
    peer.send("INITREMOTE").await;
    let why = peer.expect_prefix(None, "INITREMOTE-FAILURE ").await;
    assert!(why.contains("not today"), "{why}");
    let (exit, rest) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
    assert!(rest.is_empty(), "{rest:?}");
}

async fn async_error_answer_goes_to_the_waiting_job(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO ASYNC").await;
    // git-annex sends a query's ERROR answer unframed.
    peer.script("GETCONFIG provider", "ERROR nope");
    peer.send_job(1, "PREPARE").await;
    let why = peer.expect_prefix(Some(1), "PREPARE-FAILURE ").await;
    assert!(why.contains("nope"), "{why}");
    // A framed ERROR answer is taken the same way.
    peer.send_job(1, "PREPARE").await;
    peer.held_query(Some(1), "GETCONFIG provider").await;
    peer.answer_held(Some(1), "GETCONFIG provider", "J 1 ERROR refused as well")
        .await;
    let why = peer.expect_prefix(Some(1), "PREPARE-FAILURE ").await;
    assert!(why.contains("refused as well"), "{why}");
    peer.release().await;
    peer.prepare(Some(1)).await;
    let (exit, rest) = peer.finish().await;
    assert!(exit.success, "{exit:?} {}", peer_dump_hint(&rest));
    assert!(rest.is_empty(), "{rest:?}");
}

fn peer_dump_hint(rest: &[String]) -> String {
    format!("after close: {rest:?}")
}

async fn async_error_answer_reaches_the_oldest_waiting_job(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("ASYNC").await;
    peer.send_job(1, "PREPARE").await;
    peer.held_query(Some(1), "GETCONFIG provider").await;
    peer.send_job(2, "INITREMOTE").await;
    peer.held_query(Some(2), "GETCONFIG provider").await;
    // Unframed, as git-annex sends it: for the job that asked first.
    peer.answer_held(Some(1), "GETCONFIG provider", "ERROR no config for you")
        .await;
    let why = peer.expect_prefix(Some(1), "PREPARE-FAILURE ").await;
    assert!(why.contains("no config for you"), "{why}");
    peer.release().await;
    peer.expect(Some(2), "INITREMOTE-SUCCESS").await;
    let (exit, _) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
}

async fn async_error_answer_skips_a_job_already_answered(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("ASYNC").await;
    peer.send_job(1, "PREPARE").await;
    peer.held_query(Some(1), "GETCONFIG provider").await;
    peer.send_job(2, "INITREMOTE").await;
    peer.held_query(Some(2), "GETCONFIG provider").await;
    // Job 1's answer and job 2's ERROR back to back: job 1 may not have
    // read its VALUE yet when the ERROR arrives, but it is not job 1's.
    peer.answer_held(Some(1), "GETCONFIG provider", "J 1 VALUE directory")
        .await;
    peer.answer_held(Some(2), "GETCONFIG provider", "ERROR not for job one")
        .await;
    peer.release().await;
    let why = peer.expect_prefix(Some(2), "INITREMOTE-FAILURE ").await;
    assert!(why.contains("not for job one"), "{why}");
    peer.expect(Some(1), "PREPARE-SUCCESS").await;
    let (exit, rest) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
    assert!(rest.is_empty(), "{rest:?}");
}

async fn requests_before_a_successful_prepare_fail_cleanly(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO").await;
    peer.config.remove("provider");
    // Export support is the provider's: without one, or with one that
    // cannot be read, there is none.
    peer.call(None, "EXPORTSUPPORTED", "EXPORTSUPPORTED-FAILURE")
        .await;
    peer.script("GETCONFIG provider", "ERROR nope");
    peer.call(None, "EXPORTSUPPORTED", "EXPORTSUPPORTED-FAILURE")
        .await;
    peer.send("PREPARE").await;
    let why = peer.expect_prefix(None, "PREPARE-FAILURE ").await;
    assert!(why.contains("provider="), "{why}");
    let src = peer.write_local("x", b"x");
    peer.send(&format!("TRANSFER STORE K1 {}", path_str(&src)))
        .await;
    peer.expect_prefix(None, "TRANSFER-FAILURE STORE K1 ").await;
    peer.send("CHECKPRESENT K1").await;
    peer.expect_prefix(None, "CHECKPRESENT-UNKNOWN K1 ").await;
    peer.send("REMOVE K1").await;
    peer.expect_prefix(None, "REMOVE-FAILURE K1 ").await;
    peer.config
        .insert("provider".into(), "no-such-provider".into());
    peer.call(None, "EXPORTSUPPORTED", "EXPORTSUPPORTED-FAILURE")
        .await;
    peer.send("PREPARE").await;
    let why = peer.expect_prefix(None, "PREPARE-FAILURE ").await;
    assert!(why.contains("no-such-provider"), "{why}");
    let (exit, _) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
}

// ------------------------------------------------------- malformed input

async fn transfer_with_missing_parameters_is_fatal(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO").await;
    peer.prepare(None).await;
    peer.send("TRANSFER STORE").await;
    let error = peer.expect_fatal("TRANSFER").await;
    assert!(error.contains("parameter"), "{error}");
}

async fn bad_job_number_is_fatal(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("ASYNC").await;
    peer.send("J x PREPARE").await;
    let error = peer.expect_fatal("J x PREPARE").await;
    assert!(error.contains("job number"), "{error}");
}

async fn unframed_request_after_async_is_fatal(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO ASYNC").await;
    peer.prepare(Some(1)).await;
    peer.send("CHECKPRESENT KEY1").await;
    let error = peer.expect_fatal("CHECKPRESENT KEY1").await;
    assert!(error.contains("unframed"), "{error}");
}

async fn malformed_framed_request_is_fatal(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("ASYNC").await;
    peer.prepare(Some(1)).await;
    peer.send_job(2, "TRANSFER RETRIEVE onlykey").await;
    peer.expect_fatal("TRANSFER RETRIEVE onlykey").await;
}

async fn bad_direction_is_fatal(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("").await;
    peer.send("TRANSFER SEND KEY /tmp/f").await;
    let error = peer.expect_fatal("SEND").await;
    assert!(error.contains("STORE or RETRIEVE"), "{error}");
}

async fn empty_line_is_fatal(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO").await;
    peer.send("").await;
    peer.expect_fatal("empty").await;
}

async fn control_character_in_a_line_is_fatal(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO").await;
    peer.send_bytes(b"EXPORT a\0b\n").await;
    peer.expect_fatal("control character").await;
}

async fn non_utf8_line_is_fatal(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO").await;
    peer.send_bytes(b"TRANSFER STORE K /tmp/caf\xe9\n").await;
    peer.expect_fatal("UTF-8").await;
}

async fn overlong_line_is_fatal(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO").await;
    let mut line = b"EXPORT ".to_vec();
    line.resize(3 << 20, b'a');
    line.push(b'\n');
    peer.send_bytes(&line).await;
    peer.expect_fatal("longer than").await;
}

async fn second_extensions_is_fatal(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO ASYNC").await;
    peer.prepare(Some(1)).await;
    peer.send_job(1, "EXTENSIONS INFO").await;
    peer.expect_fatal("EXTENSIONS").await;
}

async fn request_instead_of_an_answer_is_fatal(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO").await;
    peer.send("PREPARE").await;
    peer.held_query(None, "GETCONFIG provider").await;
    peer.send("CHECKPRESENT K").await;
    peer.expect_fatal("answer").await;
}

async fn fatal_error_does_not_wait_for_busy_jobs(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("ASYNC").await;
    peer.prepare(Some(1)).await;
    // Job 2 is stuck waiting for an answer that never comes...
    peer.send_job(2, "INITREMOTE").await;
    peer.held_query(Some(2), "GETCONFIG provider").await;
    // ...when a malformed line arrives: the remote must still end now.
    peer.send("J 3").await;
    peer.expect_fatal("J 3").await;
}

// ------------------------------------------------------------ shutdown

async fn stdin_closed_right_away_exits_cleanly(mode: Mode) {
    let peer = Peer::start(mode).await;
    let (exit, rest) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
    assert!(rest.is_empty(), "{rest:?}");
}

async fn stdin_closed_after_a_session_exits_cleanly(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO ASYNC").await;
    peer.prepare(Some(1)).await;
    peer.call(
        Some(2),
        "CHECKPRESENT WORM-m1--K",
        "CHECKPRESENT-FAILURE WORM-m1--K",
    )
    .await;
    let (exit, rest) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
    assert!(rest.is_empty(), "{rest:?}");
}

async fn stdin_closed_while_a_query_waits_exits_cleanly(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO").await;
    peer.send("PREPARE").await;
    peer.held_query(None, "GETCONFIG provider").await;
    let (exit, rest) = peer.finish().await;
    assert!(exit.success, "{exit:?}");
    // Whatever it still says is a well-formed failure, not a success.
    assert!(
        rest.iter().all(|l| l.starts_with("PREPARE-FAILURE ")),
        "{rest:?}"
    );
}

async fn git_annex_error_ends_the_session(mode: Mode) {
    let mut peer = Peer::start(mode).await;
    peer.handshake("INFO").await;
    peer.prepare(None).await;
    peer.send("ERROR git-annex is giving up").await;
    let (exit, rest) = peer.drain_and_wait().await;
    assert!(!exit.success, "{exit:?}");
    assert!(rest.is_empty(), "{rest:?}");

    // With ASYNC, git-annex's ERROR is unframed; no job waits for an answer.
    let mut peer = Peer::start(mode).await;
    peer.handshake("ASYNC").await;
    peer.prepare(Some(1)).await;
    peer.send("ERROR giving up").await;
    let (exit, _) = peer.drain_and_wait().await;
    assert!(!exit.success, "{exit:?}");
}
