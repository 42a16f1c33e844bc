//! The soak: real git-annex drives the real remote at -J8 through a proxy
//! that injects faults by seed (`tests/fakes/fault_proxy.py`): connection
//! resets mid-body, 5xx bursts, 429 with and without Retry-After, stalls
//! before headers and mid-body, truncated bodies, an HTML page with 200.
//!
//! Every transfer must either complete with verified content or fail with a
//! clear message; none may claim success with wrong or missing content; a
//! resumed download never fetches again bytes it already has (the proxy
//! counts bytes served per object); no command hangs; the remote's peak
//! resident memory stays under 64 MiB.
//!
//! `make test` runs a short soak (a few dozen transfers per provider);
//! `make soak` sets `ANNEXA_SOAK=long` for ≥ 1,000 transfers per provider
//! (docs/testing.md, figures in docs/reliability.md).

use crate::support::common;
use crate::support::dataverse as support_dataverse;
use crate::support::faults as support_faults;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{pseudo_random, Moto, Repo};
use support_dataverse::{FakeDataverse, PID, TOKEN};
use support_faults::{
    repo_with_s3_remote, report, run_bounded, FaultProxy, Records, Rng, Route, RssWatch, SOAK_KINDS,
};

const PEAK_RSS_LIMIT_KIB: u64 = 64 << 10;

struct Plan {
    files: usize,
    rounds: usize,
    /// Share of requests that meet a fault.
    rate: f64,
    seed: u64,
    /// Longest any one git-annex command may run before it counts as hung.
    command_limit: Duration,
}

fn plan(seed: u64) -> Plan {
    let long = std::env::var("ANNEXA_SOAK").is_ok_and(|v| v == "long");
    let seed = std::env::var("ANNEXA_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(seed);
    if long {
        // Two transfers per file and round: 100 × 5 × 2 = 1,000, plus the
        // final checks.
        Plan {
            files: 100,
            rounds: 5,
            rate: 0.2,
            seed,
            command_limit: Duration::from_secs(20 * 60),
        }
    } else {
        Plan {
            files: 12,
            rounds: 2,
            rate: 0.25,
            seed,
            command_limit: Duration::from_secs(5 * 60),
        }
    }
}

/// Sizes that give every fault a body to cut: mostly small, some up to
/// 1.5 MiB (several reads of the body), never the size of the proxy's HTML
/// page.
fn sizes(plan: &Plan) -> Vec<usize> {
    let mut rng = Rng::new(plan.seed);
    (0..plan.files)
        .map(|_| match rng.range(0, 4) {
            0 => rng.range(1_000, 1_500_000) as usize,
            _ => rng.range(1_000, 200_000) as usize,
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    transfers: usize,
    failures: usize,
    /// A transfer git-annex was told succeeded but whose content was wrong
    /// or absent.
    false_successes: usize,
    messages: BTreeSet<String>,
}

impl Tally {
    /// Counts a run's records; every failure must say why.
    fn add(&mut self, what: &str, out: &std::process::Output) -> Records {
        let records = Records::parse(&out.stdout);
        self.transfers += records.total();
        self.failures += records.failed.len();
        for (file, messages) in &records.failed {
            let text = messages.join(" ");
            assert!(
                !text.trim().is_empty(),
                "{what}: {file} failed without a message\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!text.contains("panicked"), "{what}: {file}: {text}");
            if text
                .to_lowercase()
                .contains("verification of content failed")
            {
                self.false_successes += 1;
            }
            // The message, with key names and numbers taken out, so the
            // kinds of failure can be listed.
            let shape: String = text
                .split_whitespace()
                .filter(|w| !w.contains("SHA256E-") && !w.chars().any(|c| c.is_ascii_digit()))
                .collect::<Vec<_>>()
                .join(" ");
            if self.messages.len() < 40 {
                self.messages.insert(shape);
            }
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        records
    }
}

/// The soak on one repository whose remote `R` reaches its service through
/// `proxy`.
fn soak(name: &str, plan: &Plan, repo: &Repo, proxy: &FaultProxy, watch: &RssWatch) {
    let started = Instant::now();
    let sizes = sizes(plan);
    let mut originals = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let content = pseudo_random(*size, plan.seed * 10_000 + i as u64);
        let file = format!("d{}/f{i:04}.bin", i % 4);
        repo.write(&file, &content);
        originals.push((file, content));
    }
    repo.ok(&["git", "annex", "add", "-q", "."]);
    repo.ok(&["git", "commit", "-q", "-m", "soak files"]);

    let run = |argv: &[&str]| {
        run_bounded(
            repo.command(argv)
                .env("ANNEXA_TIMEOUT", support_faults::REMOTE_TIMEOUT),
            plan.command_limit,
        )
    };
    let mut tally = Tally::default();
    let mut presence_checks = 0;
    proxy.set_rate(plan.rate);
    for round in 0..plan.rounds {
        let out = run(&[
            "git",
            "annex",
            "copy",
            "--to",
            "R",
            "-J8",
            "--json",
            "--json-error-messages",
            ".",
        ]);
        let stored: BTreeSet<String> = tally
            .add(&format!("round {round} copy"), &out)
            .ok
            .into_iter()
            .collect();
        // Whatever git-annex now counts on R must really be there, whole.
        proxy.set_rate(0.0);
        let out = run(&[
            "git",
            "annex",
            "fsck",
            "--from",
            "R",
            "--fast",
            "-J8",
            "--json",
            "--json-error-messages",
            ".",
        ]);
        let checked = Records::parse(&out.stdout);
        presence_checks += checked.total();
        // Only what STORE just said it stored: a REMOVE whose answer was
        // lost after the server deleted leaves git-annex counting a copy
        // that is gone, which is no lie of the remote's.
        let lies: Vec<_> = checked
            .failed
            .iter()
            .filter(|(f, _)| stored.contains(f))
            .collect();
        tally.false_successes += lies.len();
        assert!(lies.is_empty(), "stored, but not there: {lies:?}");
        proxy.set_rate(plan.rate);
        // Local drops ask R whether it has each key: a false yes loses data.
        run(&["git", "annex", "drop", "-J8", "--json", "."]);
        proxy.forget_complete();
        let out = run(&[
            "git",
            "annex",
            "get",
            "-J8",
            "--json",
            "--json-error-messages",
            ".",
        ]);
        tally.add(&format!("round {round} get"), &out);
        // Removing from R leaves it for the next round's copy to store again.
        run(&["git", "annex", "drop", "--from", "R", "-J8", "--json", "."]);
    }
    let out = run(&[
        "git",
        "annex",
        "copy",
        "--to",
        "R",
        "-J8",
        "--json",
        "--json-error-messages",
        ".",
    ]);
    let stored: BTreeSet<String> = tally.add("last copy", &out).ok.into_iter().collect();
    let refetched_in_rounds = proxy.stats();

    // Faults off: every key git-annex counts on R is there with its content,
    // and every file can be had and verifies.
    proxy.set_rate(0.0);
    proxy.forget_complete();
    let out = run(&[
        "git",
        "annex",
        "fsck",
        "--from",
        "R",
        "-J8",
        "--json",
        "--json-error-messages",
        ".",
    ]);
    let checked = Records::parse(&out.stdout);
    let lies: Vec<_> = checked
        .failed
        .iter()
        .filter(|(f, _)| stored.contains(f))
        .collect();
    tally.false_successes += lies.len();
    assert!(lies.is_empty(), "stored, but wrong or absent: {lies:?}");
    proxy.forget_complete();
    let out = run(&[
        "git",
        "annex",
        "get",
        "-J8",
        "--json",
        "--json-error-messages",
        ".",
    ]);
    let got = Records::parse(&out.stdout);
    assert!(got.failed.is_empty(), "content lost: {:?}", got.failed);
    repo.ok(&["git", "annex", "fsck", "-q", "."]);
    for (file, content) in &originals {
        assert!(
            std::fs::read(repo.dir.join(file)).unwrap() == *content,
            "{file} differs"
        );
    }
    let out = run(&[
        "git",
        "annex",
        "copy",
        "--to",
        "R",
        "-J8",
        "--json",
        "--json-error-messages",
        ".",
    ]);
    let copied = Records::parse(&out.stdout);
    assert!(copied.failed.is_empty(), "{:?}", copied.failed);
    repo.ok(&["git", "annex", "fsck", "--from", "R", "--fast", "-q", "."]);

    let stats = proxy.stats();
    let (peak_kib, processes) = watch.peak();
    report(
        name,
        serde_json::json!({
            "seed": plan.seed,
            "files": plan.files,
            "rounds": plan.rounds,
            "fault_rate": plan.rate,
            "transfers_under_faults": tally.transfers,
            "failures_reported": tally.failures,
            "false_successes": tally.false_successes,
            "presence_checks_after_copy": presence_checks,
            "requests": refetched_in_rounds.requests,
            "faults": refetched_in_rounds.faults,
            "object_bytes_served": stats.served,
            "refetched_bytes": stats.refetched,
            "remote_processes": processes,
            "peak_rss_kib": peak_kib,
            "failure_messages": tally.messages,
            "seconds": started.elapsed().as_secs(),
        }),
    );
    assert_eq!(tally.false_successes, 0);
    assert_eq!(
        stats.refetched, 0,
        "bytes already on disk fetched again: {:?}",
        stats.refetched_objects
    );
    assert!(processes > 0, "no remote process was seen");
    assert!(
        peak_kib < PEAK_RSS_LIMIT_KIB,
        "the remote's peak RSS was {peak_kib} KiB"
    );
    for kind in SOAK_KINDS {
        assert!(
            refetched_in_rounds.faults.get(*kind).copied().unwrap_or(0) > 0,
            "no {kind} fault was injected: {:?}",
            refetched_in_rounds.faults
        );
    }
    assert!(
        tally.transfers >= plan.files * plan.rounds * 2,
        "only {} transfers",
        tally.transfers
    );
}

#[test]
fn s3_soak_through_injected_faults() {
    let plan = plan(1);
    let moto = Moto::start();
    let proxy = FaultProxy::start(
        plan.seed,
        SOAK_KINDS,
        &[Route {
            upstream_port: moto.port,
            objects: Some("^/annexa-soak/"),
        }],
    );
    let tmp = tempfile::tempdir().unwrap();
    let watch = RssWatch::start(tmp.path());
    let repo = repo_with_s3_remote(tmp.path(), &proxy.url(0), "annexa-soak", &[]);
    soak("s3", &plan, &repo, &proxy, &watch);
}

#[test]
fn dataverse_soak_through_injected_faults() {
    let plan = plan(2);
    let fake = FakeDataverse::start(&[]);
    // The API and the storage host its downloads are redirected to both go
    // through the proxy (it rewrites the redirect).
    let proxy = FaultProxy::start(
        plan.seed,
        SOAK_KINDS,
        &[
            Route {
                upstream_port: fake.port(),
                objects: None,
            },
            Route {
                upstream_port: fake.storage_port(),
                objects: Some("^/s/"),
            },
        ],
    );
    let tmp = tempfile::tempdir().unwrap();
    let watch = RssWatch::start(tmp.path());
    let repo = Repo::init(&tmp.path().join("repo")).env("DATAVERSE_API_KEY", TOKEN);
    let url = format!("url={}", proxy.url(0));
    let doi = format!("doi={PID}");
    repo.initremote_ok("R", &["provider=dataverse", &url, &doi]);
    soak("dataverse", &plan, &repo, &proxy, &watch);
}
