//! One conformance suite for every provider, driven directly through the
//! provider traits with an in-memory git-annex ([`MemAnnex`]): the same
//! checks run against a local folder, S3 on moto_server and the fake
//! Dataverse, Figshare, GitHub and Zenodo. `git annex testremote` (tests/testremote.rs) checks the same
//! providers through git-annex; this suite checks what testremote cannot:
//! names that must be refused, many keys served at once by one provider
//! instance, and "absent" told apart from "cannot tell".
//!
//! Adding a provider: one arm in [`Service`] and one `conformance!` line.

use crate::support::annex as support_annex;
use crate::support::common;
use crate::support::dataverse as support_dataverse;
use crate::support::figshare as support_figshare;
use crate::support::github as support_github;
use crate::support::zenodo as support_zenodo;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::support::annex::{annex_key, export_path, exported, listed_file};
use annexa::providers::{
    self, Annex, ImportSink, ImportTree, ImportableFile, Provider, ProviderError,
};
use common::{pseudo_random, Moto, AWS_KEY, AWS_SECRET};
use support_annex::{sha256e_key, MemAnnex};
use support_dataverse::{FakeDataverse, PID, TOKEN};
use support_figshare::FakeFigshare;
use support_github::{FakeGithub, GH_REPO, GH_TOKEN};
use support_zenodo::FakeZenodo;

/// The Figshare article and Zenodo draft an export remote writes to (its
/// key remote has the fake's default one).
const TREE_DRAFT: u64 = 4343;

/// A running service for one provider kind.
enum Service {
    Directory(tempfile::TempDir),
    S3(Moto),
    Dataverse(FakeDataverse),
    Github(FakeGithub),
    Figshare(FakeFigshare),
    Zenodo(FakeZenodo),
}

impl Service {
    fn start(kind: &str) -> Service {
        match kind {
            "directory" => Service::Directory(tempfile::tempdir().unwrap()),
            "s3" => Service::S3(Moto::start()),
            "dataverse" => Service::Dataverse(FakeDataverse::start(&[])),
            "dataverse61" => Service::Dataverse(FakeDataverse::start(&["--version", "6.1"])),
            "github" => Service::Github(FakeGithub::start(&[])),
            "figshare" => Service::Figshare(FakeFigshare::start(&[])),
            "zenodo" => Service::Zenodo(FakeZenodo::start(&[])),
            other => panic!("no conformance service for provider={other}"),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Service::Directory(_) => "directory",
            Service::S3(_) => "s3",
            Service::Dataverse(_) => "dataverse",
            Service::Github(_) => "github",
            Service::Figshare(_) => "figshare",
            Service::Zenodo(_) => "zenodo",
        }
    }

    /// initremote parameters for a remote on this service.
    fn config(&self, export: bool) -> Vec<(String, String)> {
        let mut config = vec![("provider".to_string(), self.kind().to_string())];
        match self {
            Service::Directory(dir) => {
                let sub = if export { "tree" } else { "keys" };
                config.push((
                    "directory".into(),
                    dir.path().join(sub).display().to_string(),
                ));
            }
            Service::S3(moto) => {
                let bucket = if export { "conf-tree" } else { "conf-keys" };
                config.push(("bucket".into(), bucket.into()));
                config.push(("createbucket".into(), "yes".into()));
                config.push(("endpoint".into(), moto.endpoint()));
            }
            Service::Dataverse(fake) => {
                config.push(("url".into(), fake.url()));
                config.push(("doi".into(), PID.into()));
                let root = if export { "tree" } else { "keys" };
                config.push(("rootpath".into(), root.into()));
            }
            Service::Github(fake) => {
                config.push(("api".into(), fake.api()));
                config.push(("repo".into(), GH_REPO.into()));
                let tag = if export { "tree" } else { "keys" };
                config.push(("tag".into(), tag.into()));
                config.push(("createrelease".into(), "yes".into()));
            }
            Service::Figshare(fake) => {
                // Keys and the tree in different articles, as users would.
                let article = if export {
                    TREE_DRAFT
                } else {
                    support_figshare::ARTICLE
                };
                fake.admin("POST", &format!("article?id={article}"));
                config.push(("api".into(), fake.api()));
                config.push(("article".into(), article.to_string()));
            }
            Service::Zenodo(fake) => {
                // Keys and the tree in different drafts, as users would.
                let record = if export {
                    TREE_DRAFT
                } else {
                    support_zenodo::RECORD
                };
                fake.admin("POST", &format!("draft?id={record}"));
                config.push(("api".into(), fake.api()));
                config.push(("record".into(), record.to_string()));
            }
        }
        if export {
            config.push(("exporttree".into(), "yes".into()));
        }
        config
    }

    /// Sets `/_fake/config?QUERY` on a fake service (listing faults and
    /// page sizes: tests/fakes/listing_faults.py).
    fn configure_listing(&self, query: &str) {
        let query = query.replace(
            "max_page=",
            match self {
                Service::Github(_) => "per_page_max=",
                _ => "max_page=",
            },
        );
        match self {
            Service::Dataverse(fake) => {
                fake.admin("POST", &format!("config?{query}"));
            }
            Service::Figshare(fake) => {
                fake.admin("POST", &format!("config?{query}"));
            }
            Service::Zenodo(fake) => {
                fake.admin("POST", &format!("config?{query}"));
            }
            Service::Github(fake) => fake.configure(&query),
            _ => panic!("{} has no JSON API listing", self.kind()),
        }
    }

    /// Publishes what the key remote holds, where the service has
    /// published versions.
    fn publish(&self) {
        match self {
            Service::Dataverse(fake) => fake.publish(),
            Service::Figshare(fake) => fake.publish(),
            Service::Zenodo(fake) => fake.publish(),
            _ => {}
        }
    }

    /// Publishes what the export remote holds, where the service has
    /// published versions.
    fn publish_tree(&self) {
        match self {
            Service::Dataverse(fake) => fake.publish(),
            Service::Figshare(fake) => {
                fake.admin("POST", &format!("publish?article={TREE_DRAFT}"));
            }
            Service::Zenodo(fake) => {
                fake.admin("POST", &format!("publish?record={TREE_DRAFT}"));
            }
            _ => {}
        }
    }

    /// The same remote with its service out of reach: a missing folder, a
    /// closed port. Presence must then be "cannot tell", never "absent".
    fn unreachable_config(&self) -> Vec<(String, String)> {
        let closed = format!("http://127.0.0.1:{}", common::free_port());
        let mut config = self.config(false);
        for (name, value) in config.iter_mut() {
            match (self, name.as_str()) {
                (Service::Directory(dir), "directory") => {
                    *value = dir.path().join("unplugged-drive").display().to_string()
                }
                (Service::S3(_), "endpoint")
                | (Service::Dataverse(_), "url")
                | (Service::Github(_), "api") => *value = closed.clone(),
                (Service::Figshare(_), "api") => *value = format!("{closed}/v2"),
                (Service::Zenodo(_), "api") => *value = format!("{closed}/api"),
                _ => {}
            }
        }
        config
    }
}

/// Credentials as a user would give them: in the environment.
fn set_credentials() {
    std::env::set_var("AWS_ACCESS_KEY_ID", AWS_KEY);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", AWS_SECRET);
    std::env::set_var("DATAVERSE_API_KEY", TOKEN);
    std::env::set_var("GITHUB_TOKEN", GH_TOKEN);
    std::env::set_var("FIGSHARE_API_KEY", support_figshare::TOKEN);
    std::env::set_var("ZENODO_TOKEN", support_zenodo::TOKEN);
}

/// What a case starts from: its service running, a scratch folder, and a
/// session configured for the service (`export`: exporttree=yes).
struct Setup {
    service: Service,
    tmp: tempfile::TempDir,
    annex: MemAnnex,
}

fn set_up(kind: &str, export: bool) -> Setup {
    set_credentials();
    let service = Service::start(kind);
    let annex = annex_with(&service.config(export));
    Setup {
        service,
        tmp: tempfile::tempdir().unwrap(),
        annex,
    }
}

fn annex_with(config: &[(String, String)]) -> MemAnnex {
    let pairs: Vec<(&str, &str)> = config
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    MemAnnex::with(&pairs)
}

/// The provider a conformance service name runs (`dataverse61`: the
/// fake Dataverse answering as 6.1).
fn provider_kind(service: &str) -> &str {
    match service {
        "dataverse61" => "dataverse",
        other => other,
    }
}

/// What the kind declares it can do ([`prepared`] checks the provider
/// agrees).
fn declared(kind: &str) -> providers::Capabilities {
    providers::find_kind(provider_kind(kind))
        .expect("registered provider")
        .capabilities()
}

/// initremote then prepare, as git-annex does.
async fn prepared(annex: &MemAnnex, kind: &str) -> Arc<dyn Provider> {
    let kind = providers::find_kind(provider_kind(kind)).expect("registered provider");
    kind.initremote(annex).await.expect("initremote");
    let provider = kind.prepare(annex).await.expect("prepare");
    // The kind's declared capabilities (EXPORTSUPPORTED, IMPORTSUPPORTED are
    // answered from them before PREPARE) must be what the provider hands out.
    assert_eq!(
        kind.capabilities(),
        providers::Capabilities::of(provider.as_ref()),
        "{}: declared capabilities differ from the provider's",
        kind.name()
    );
    provider
}

struct Content {
    key: String,
    data: Vec<u8>,
    file: PathBuf,
}

fn content(dir: &Path, len: usize, seed: u64) -> Content {
    let data = pseudo_random(len, seed);
    let key = sha256e_key(&data, ".bin");
    let file = dir.join(format!("src-{seed}"));
    std::fs::write(&file, &data).unwrap();
    Content { key, data, file }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// store / present / store again / retrieve (fresh and resumed) / remove,
/// with removal and presence of absent keys.
fn keys_round_trip(kind: &str) {
    let Setup {
        service: _running,
        tmp,
        annex,
    } = set_up(kind, false);
    runtime().block_on(async {
        let p = prepared(&annex, kind).await;
        let c = content(tmp.path(), 300_001, 1);

        assert!(
            !p.check_present(&annex_key(&c.key), &annex).await.unwrap(),
            "absent at first"
        );
        p.remove(&annex_key(&c.key), &annex)
            .await
            .expect("removing an absent key succeeds");

        p.store(&annex_key(&c.key), &c.file, &annex)
            .await
            .expect("store");
        assert!(p.check_present(&annex_key(&c.key), &annex).await.unwrap());
        p.store(&annex_key(&c.key), &c.file, &annex)
            .await
            .expect("storing again succeeds");

        // Fresh, then resumed from a third and from the end.
        for kept in [0, c.data.len() / 3, c.data.len()] {
            let dest = tmp.path().join(format!("dest-{kept}"));
            std::fs::write(&dest, &c.data[..kept]).unwrap();
            p.retrieve(&annex_key(&c.key), &dest, &annex)
                .await
                .expect("retrieve");
            assert!(
                std::fs::read(&dest).unwrap() == c.data,
                "retrieve resuming from {kept} bytes gave other bytes"
            );
        }
        let progress = annex.progress.lock().unwrap().clone();
        assert_eq!(
            progress.last().copied(),
            Some(c.data.len() as u64),
            "progress ends at the size"
        );

        p.remove(&annex_key(&c.key), &annex).await.expect("remove");
        assert!(
            !p.check_present(&annex_key(&c.key), &annex).await.unwrap(),
            "absent after remove"
        );
        p.remove(&annex_key(&c.key), &annex)
            .await
            .expect("removing again succeeds");

        // Retrieving an absent key is an error that says so, and leaves
        // nothing presented as done.
        let dest = tmp.path().join("absent");
        let err = p
            .retrieve(&annex_key(&c.key), &dest, &annex)
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "retrieve of an absent key: {err:?}");
    });
}

/// Export: store, present, retrieve, rename, remove, remove directory, with
/// names that have spaces, unicode and folders.
fn export_tree(kind: &str) {
    let Setup {
        service: _running,
        tmp,
        annex,
    } = set_up(kind, true);
    runtime().block_on(async {
        let p = prepared(&annex, kind).await;
        let tree = p.export().expect("an export-capable provider");
        let c = content(tmp.path(), 70_000, 2);
        let name = "sub-01/anat/scan notes ünïcode #1.txt";
        let renamed = "sub-01/func/renamed ünïcode.txt";

        assert!(!tree
            .check_present_export(exported(&export_path(name), &annex_key(&c.key), &annex))
            .await
            .unwrap());
        tree.store_export(
            exported(&export_path(name), &annex_key(&c.key), &annex),
            &c.file,
        )
        .await
        .expect("store_export");
        assert!(tree
            .check_present_export(exported(&export_path(name), &annex_key(&c.key), &annex))
            .await
            .unwrap());
        tree.store_export(
            exported(&export_path(name), &annex_key(&c.key), &annex),
            &c.file,
        )
        .await
        .expect("store_export again");

        let dest = tmp.path().join("exported");
        tree.retrieve_export(
            exported(&export_path(name), &annex_key(&c.key), &annex),
            &dest,
        )
        .await
        .expect("retrieve_export");
        assert!(std::fs::read(&dest).unwrap() == c.data);

        match tree
            .rename_export(
                exported(&export_path(name), &annex_key(&c.key), &annex),
                &export_path(renamed),
            )
            .await
        {
            Ok(()) => {
                assert!(!tree
                    .check_present_export(exported(&export_path(name), &annex_key(&c.key), &annex))
                    .await
                    .unwrap());
                assert!(tree
                    .check_present_export(exported(
                        &export_path(renamed),
                        &annex_key(&c.key),
                        &annex
                    ))
                    .await
                    .unwrap());
                tree.remove_export(exported(&export_path(renamed), &annex_key(&c.key), &annex))
                    .await
                    .expect("remove_export");
            }
            // git-annex falls back to remove + store; nothing may have moved.
            Err(ProviderError::Unsupported(_)) => {
                assert!(tree
                    .check_present_export(exported(&export_path(name), &annex_key(&c.key), &annex))
                    .await
                    .unwrap());
                tree.remove_export(exported(&export_path(name), &annex_key(&c.key), &annex))
                    .await
                    .expect("remove_export");
            }
            Err(e) => panic!("rename_export: {e:?}"),
        }
        assert!(!tree
            .check_present_export(exported(&export_path(renamed), &annex_key(&c.key), &annex))
            .await
            .unwrap());
        assert!(!tree
            .check_present_export(exported(&export_path(name), &annex_key(&c.key), &annex))
            .await
            .unwrap());
        tree.remove_export(exported(&export_path(name), &annex_key(&c.key), &annex))
            .await
            .expect("removing an absent export succeeds");
        tree.remove_export_directory(&export_path("sub-01/anat"), &annex)
            .await
            .expect("remove directory");
        tree.remove_export_directory(&export_path("no/such/dir"), &annex)
            .await
            .expect("remove missing directory");
    });
}

/// 50 keys stored, checked and retrieved at once by one provider instance,
/// as ASYNC jobs share it.
fn many_keys_at_once(kind: &str) {
    let Setup {
        service: _running,
        tmp,
        annex,
    } = set_up(kind, false);
    let annex = Arc::new(annex);
    runtime().block_on(async {
        let p = prepared(&annex, kind).await;
        let contents: Vec<Content> = (0..50)
            .map(|i| content(tmp.path(), 1000 + i * 97, 100 + i as u64))
            .collect();
        let stores = contents.iter().map(|c| {
            let (p, annex) = (p.clone(), annex.clone());
            async move { p.store(&annex_key(&c.key), &c.file, annex.as_ref()).await }
        });
        for (c, r) in contents
            .iter()
            .zip(futures_util::future::join_all(stores).await)
        {
            r.unwrap_or_else(|e| panic!("store {}: {e:?}", c.key));
        }
        let gets = contents.iter().enumerate().map(|(i, c)| {
            let (p, annex) = (p.clone(), annex.clone());
            let dest = tmp.path().join(format!("got-{i}"));
            async move {
                assert!(p
                    .check_present(&annex_key(&c.key), annex.as_ref())
                    .await
                    .unwrap());
                p.retrieve(&annex_key(&c.key), &dest, annex.as_ref())
                    .await
                    .unwrap();
                std::fs::read(&dest).unwrap() == c.data
            }
        });
        let same = futures_util::future::join_all(gets).await;
        assert!(same.iter().all(|s| *s), "a key came back with other bytes");
    });
}

/// datalad-annex keeps a repository under fixed keys without size or
/// checksum (`XDLRA--refs`), whose content changes with every push: storing
/// such a key again, from a fresh repository that knows nothing of the
/// first store, replaces the content, and so does remove + store, also
/// once a version holding it is published (Dataverse, Figshare).
fn fixed_name_keys_are_replaced(kind: &str) {
    set_credentials();
    let service = Service::start(kind);
    if let Service::Github(fake) = &service {
        // Without GitHub's digest only the key could vouch for an asset.
        fake.configure("digest=0");
    }
    let tmp = tempfile::tempdir().unwrap();
    let config = service.config(false);
    let key = "XDLRA--refs";
    // Same length, as a refs list after a push usually is.
    let versions: Vec<PathBuf> = (0..4)
        .map(|i| {
            let file = tmp.path().join(format!("refs-{i}"));
            std::fs::write(&file, format!("{i:0>40} refs/heads/main\n")).unwrap();
            file
        })
        .collect();
    let dest = tmp.path().join("got");
    // As another repository reads it: no state of the stores.
    let read_back = || async {
        let _ = std::fs::remove_file(&dest);
        let annex = annex_with(&config);
        let p = prepared(&annex, kind).await;
        p.retrieve(&annex_key(key), &dest, &annex)
            .await
            .expect("retrieve");
        std::fs::read(&dest).unwrap()
    };
    runtime().block_on(async {
        let first = annex_with(&config);
        let p = prepared(&first, kind).await;
        p.store(&annex_key(key), &versions[0], &first)
            .await
            .expect("store");

        // A fresh repository stores new content under the same key.
        let fresh = annex_with(&config);
        let p = prepared(&fresh, kind).await;
        p.store(&annex_key(key), &versions[1], &fresh)
            .await
            .expect("store again");
        assert_eq!(
            read_back().await,
            std::fs::read(&versions[1]).unwrap(),
            "{kind} kept the old content of {key}"
        );

        // What datalad-annex does: remove, then store, in a fresh
        // repository; after a publication too.
        for (round, file) in versions[2..].iter().enumerate() {
            if round == 1 {
                service.publish();
            }
            let annex = annex_with(&config);
            let p = prepared(&annex, kind).await;
            p.remove(&annex_key(key), &annex).await.expect("remove");
            p.store(&annex_key(key), file, &annex)
                .await
                .expect("store after remove");
            assert_eq!(
                read_back().await,
                std::fs::read(file).unwrap(),
                "{kind}: round {round}"
            );
        }
    });
}

/// "Absent" only when the service says so: out of reach is "cannot tell".
fn absent_is_not_unreachable(kind: &str) {
    set_credentials();
    let service = Service::start(kind);
    let tmp = tempfile::tempdir().unwrap();
    let c = content(tmp.path(), 100, 4);
    runtime().block_on(async {
        let annex = annex_with(&service.config(false));
        let p = prepared(&annex, kind).await;
        assert!(!p.check_present(&annex_key(&c.key), &annex).await.unwrap());

        let annex = annex_with(&service.unreachable_config());
        let kind_impl = providers::find_kind(provider_kind(kind)).unwrap();
        // Preparing may already fail (it must say why); if it succeeds,
        // presence must not be "absent".
        if let Ok(p) = kind_impl.prepare(&annex).await {
            match p.check_present(&annex_key(&c.key), &annex).await {
                Ok(false) => panic!("an unreachable {kind} remote said absent"),
                Ok(true) => panic!("an unreachable {kind} remote said present"),
                Err(e) => assert!(!e.is_not_found(), "unreachable reported as absent: {e:?}"),
            }
            let err = p.remove(&annex_key(&c.key), &annex).await;
            assert!(
                err.is_err(),
                "remove on an unreachable {kind} remote claimed success"
            );
        }
    });
}

/// Counts what a listing hands over.
#[derive(Default)]
struct Count(usize);

impl ImportSink for Count {
    fn found(&mut self, _file: ImportableFile) -> providers::Result<()> {
        self.0 += 1;
        Ok(())
    }
    fn skipped(&mut self, name: &str, why: &str) {
        panic!("{name} skipped: {why}");
    }
}

/// The most memory this process has held (`VmHWM`), in bytes.
fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Every listing of a token service goes through the one paging engine
/// and the bounded body reader: against a server that repeats pages,
/// ignores the offset, stalls mid-body or sends a 100 MiB body, the
/// listing ends in bounded time and memory with a clear error, never
/// loops or hangs (issue 18 item 4: one Dataverse listing sent 90,307
/// requests in 120 s; a stalled API body hung forever).
fn listing_faults(kind: &str) {
    // The stall timeout covers bodies too: short, so a stall costs seconds.
    std::env::set_var("ANNEXA_TIMEOUT", "2");
    let Setup {
        service,
        tmp,
        annex,
    } = set_up(kind, false);
    runtime().block_on(async {
        let p = prepared(&annex, kind).await;
        for seed in 0..5 {
            let c = content(tmp.path(), 100 + seed as usize, 100 + seed);
            p.store(&annex_key(&c.key), &c.file, &annex)
                .await
                .expect("store");
        }
        // Two files a page: five files take three pages.
        service.configure_listing("max_page=2");
        let import = p.import().expect("import capability");
        let mut all = Count::default();
        import
            .list_importable(&mut all, &annex)
            .await
            .expect("the listing of a well-behaved server");
        assert_eq!(all.0, 5, "{kind}: listed");
        for (fault, want) in [
            ("repeat", "listing stopped"),
            ("ignore_offset", "listing stopped"),
            ("stall", "stalled"),
            ("huge", "longer than"),
        ] {
            service.configure_listing(&format!("list_fault={fault}"));
            let memory_before = peak_memory();
            let started = std::time::Instant::now();
            let result = import.list_importable(&mut Count::default(), &annex).await;
            let took = started.elapsed();
            let e = match result {
                Ok(()) => panic!("{kind}: a listing with fault {fault} succeeded"),
                Err(e) => e,
            };
            let text = providers::error_chain_text(&e);
            assert!(text.contains(want), "{kind} {fault}: {text}");
            assert!(!e.is_not_found(), "{kind} {fault}: {e:?}");
            assert!(
                took < std::time::Duration::from_secs(20),
                "{kind} {fault}: took {took:?}"
            );
            let grew = peak_memory().saturating_sub(memory_before);
            assert!(
                grew < 80 << 20,
                "{kind} {fault}: memory grew by {grew} bytes"
            );
        }
        service.configure_listing("list_fault=");
    });
}

/// Collects what a listing hands over.
#[derive(Default)]
struct Listed(Vec<ImportableFile>);

impl ImportSink for Listed {
    fn found(&mut self, file: ImportableFile) -> providers::Result<()> {
        self.0.push(file);
        Ok(())
    }
    fn skipped(&mut self, name: &str, why: &str) {
        panic!("{name} skipped: {why}");
    }
}

/// A listing that must end: within a minute, or the test fails.
async fn listed(import: &dyn ImportTree, annex: &MemAnnex) -> Vec<ImportableFile> {
    let mut sink = Listed::default();
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        import.list_importable(&mut sink, annex),
    )
    .await
    .expect("the listing ended")
    .expect("list_importable");
    sink.0.sort_by(|a, b| a.path.cmp(&b.path));
    sink.0
}

/// `key` with its digest's first hex digit changed: the same size, other
/// content.
fn other_digest(key: &str) -> String {
    let (head, tail) = key.split_once("--").expect("a key with a digest");
    let mut digest: Vec<char> = tail.chars().collect();
    digest[0] = if digest[0] == '0' { '1' } else { '0' };
    format!("{head}--{}", digest.into_iter().collect::<String>())
}

/// Import (`ImportTree`) of what was exported: the listing ends and lists
/// exactly the exported paths and sizes; `retrieve_import` gives each
/// file's bytes and `check_present_import` agrees with the listing (and
/// refuses other sizes and, where the service publishes a checksum, other
/// digests); a file changed since the listing is refused, never handed
/// over as the listed one; paths not in the tree are absent.
fn import_tree(kind: &str) {
    let Setup {
        service: _running,
        tmp,
        annex,
    } = set_up(kind, true);
    runtime().block_on(async {
        let p = prepared(&annex, kind).await;
        let Some(import) = p.import() else {
            return assert!(!declared(kind).import);
        };
        let tree = p.export().expect("import goes with export");
        let names = [
            "participants.tsv",
            "sub-01/anat/sub-01_T1w.nii.gz",
            "sub-01/func/task rest ünïcode.json",
        ];
        let contents: Vec<Content> = (0..names.len())
            .map(|i| content(tmp.path(), 2_000 + i * 1_001, 20 + i as u64))
            .collect();
        for (name, c) in names.iter().zip(&contents) {
            tree.store_export(exported(&export_path(name), &annex_key(&c.key), &annex), &c.file)
                .await
                .unwrap_or_else(|e| panic!("store_export {name}: {e:?}"));
        }

        let files = listed(import, &annex).await;
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, names, "{kind}: the listing is not what was exported");
        for ((file, name), c) in files.iter().zip(names).zip(&contents) {
            assert_eq!(file.size, c.data.len() as u64, "{kind}: size of {name}");
            let scratch = tmp.path().join("scratch");
            let (key, _) =
                providers::import::content_key(import, &export_path(name), file.size, &file.id, &scratch, &annex)
                    .await
                    .unwrap_or_else(|e| panic!("{kind}: key of {name}: {e:?}"));
            assert!(
                import
                    .check_present_import(exported(&export_path(name), &annex_key(&key), &annex))
                    .await
                    .unwrap(),
                "{kind}: {name} is not present under its listed key {key}"
            );
            assert!(
                import
                    .check_present_import(exported(&export_path(name), &annex_key(&c.key), &annex))
                    .await
                    .unwrap(),
                "{kind}: {name} is not present under the exported key {}",
                c.key
            );
            let bigger = sha256e_key(&[c.data.as_slice(), b"x"].concat(), "");
            assert!(
                !import
                    .check_present_import(exported(&export_path(name), &annex_key(&bigger), &annex))
                    .await
                    .unwrap(),
                "{kind}: {name} is present under a key of another size"
            );
            if file.id.checksum.is_some() {
                let wrong = other_digest(&key);
                assert!(
                    !import.check_present_import(exported(&export_path(name), &annex_key(&wrong), &annex)).await.unwrap(),
                    "{kind}: {name} is present under {wrong}, whose digest is not its published one"
                );
            }
            let dest = tmp.path().join("imported");
            let _ = std::fs::remove_file(&dest);
            import
                .retrieve_import(listed_file(&export_path(name), Some(file.size), &annex), &dest)
                .await
                .unwrap_or_else(|e| panic!("{kind}: retrieve_import {name}: {e:?}"));
            assert!(
                std::fs::read(&dest).unwrap() == c.data,
                "{kind}: retrieve_import {name} gave other bytes"
            );
            if let (Some(url), Some(urls)) = (&file.url, p.urls()) {
                assert!(
                    urls.claims_url(url),
                    "{kind}: its own listed URL {url} is not claimed"
                );
            }
        }

        // Changed since the listing: another size under the same name.
        let (name, old) = (names[1], &files[1]);
        let changed = content(tmp.path(), 3_333, 29);
        tree.store_export(exported(&export_path(name), &annex_key(&changed.key), &annex), &changed.file)
            .await
            .expect("store_export of the changed file");
        let dest = tmp.path().join("changed");
        let got = import
            .retrieve_import(listed_file(&export_path(name), Some(old.size), &annex), &dest)
            .await;
        assert!(
            got.is_err(),
            "{kind}: a file changed since the listing was handed over as the listed one"
        );
        assert!(
            !import
                .check_present_import(exported(&export_path(name), &annex_key(&contents[1].key), &annex))
                .await
                .unwrap(),
            "{kind}: {name} still counts as its old content"
        );
        assert!(
            import
                .check_present_import(exported(&export_path(name), &annex_key(&changed.key), &annex))
                .await
                .unwrap(),
            "{kind}: {name} is not its new content"
        );

        // Not in the tree: absent. (Paths outside any tree never reach a
        // provider: see protocol_transcripts::export_paths_that_leave_the_tree_are_refused.)
        assert!(!import
            .check_present_import(exported(&export_path("no/such file.txt"), &annex_key(&contents[0].key), &annex))
            .await
            .unwrap());
        let err = import
            .retrieve_import(listed_file(&export_path("no/such file.txt"), None, &annex), &dest)
            .await
            .unwrap_err();
        assert!(
            err.is_not_found(),
            "{kind}: retrieve of a missing path: {err:?}"
        );
    });
}

/// A URL like `url` on another host: a bucket of another name for
/// `s3://`, another host and port for HTTP.
fn on_other_host(url: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a URL");
    if parsed.scheme() == "s3" {
        parsed.set_host(Some("someone-elses-bucket")).unwrap();
    } else {
        parsed.set_host(Some("example.org")).unwrap();
    }
    parsed.to_string()
}

/// URL claims (CLAIMURL, CHECKURL): the provider claims the URLs its
/// import listing hands out, CHECKURL tells their size, and the key store
/// fetches a key from such a URL recorded for it; once the file
/// is gone (from a draft: a published file stays), CHECKURL says "not
/// found". It claims no URL of another host (or bucket), nor a malformed
/// one, and CHECKURL of those fails, in bounded time.
fn url_claims(kind: &str) {
    let Setup {
        service,
        tmp,
        annex,
    } = set_up(kind, true);
    runtime().block_on(async {
        let p = prepared(&annex, kind).await;
        let Some(urls) = p.urls() else {
            return assert!(!declared(kind).claim_urls);
        };
        let tree = p.export().expect("an export-capable provider");
        let import = p.import().expect("URLs come from the import listing");
        let name = "sub-01/anat/sub-01_T1w.nii.gz";
        let c = content(tmp.path(), 4_321, 30);
        tree.store_export(
            exported(&export_path(name), &annex_key(&c.key), &annex),
            &c.file,
        )
        .await
        .expect("store_export");
        let mut files = listed(import, &annex).await;
        // Zenodo gives URLs of published files only (a draft's need a token).
        let published = files.iter().all(|f| f.url.is_none());
        if published {
            service.publish_tree();
            files = listed(import, &annex).await;
        }
        let url = files
            .first()
            .and_then(|f| f.url.clone())
            .unwrap_or_else(|| panic!("{kind}: the listing gives no URL: {files:?}"));

        assert!(urls.claims_url(&url), "{kind}: {url} not claimed");
        match urls.check_url(&url, &annex).await {
            Ok(providers::UrlCheck::Contents { size, .. }) => {
                assert_eq!(size, Some(c.data.len() as u64), "{kind}: size of {url}")
            }
            other => panic!("{kind}: CHECKURL {url}: {other:?}"),
        }

        // Recorded for the file's key in a git-annex that knows nothing
        // else of it, the URL lets the key store fetch the file: what
        // `annexa import` relies on after `git annex registerurl`.
        let file = &files[0];
        let scratch = tmp.path().join("scratch");
        let (key, _) = providers::import::content_key(
            import,
            &export_path(&file.path),
            file.size,
            &file.id,
            &scratch,
            &annex,
        )
        .await
        .unwrap_or_else(|e| panic!("{kind}: key of {}: {e:?}", file.path));
        let same_place: Vec<(String, String)> = service
            .config(true)
            .into_iter()
            .filter(|(name, _)| name != "exporttree")
            .collect();
        let fresh = annex_with(&same_place);
        fresh.set_url_present(&key, &url).await.unwrap();
        let by_url = providers::find_kind(provider_kind(kind))
            .unwrap()
            .prepare(&fresh)
            .await
            .expect("prepare");
        let dest = tmp.path().join("by-url");
        by_url
            .retrieve(&annex_key(&key), &dest, &fresh)
            .await
            .unwrap_or_else(|e| panic!("{kind}: retrieve {key} from {url}: {e:?}"));
        assert!(
            std::fs::read(&dest).unwrap() == c.data,
            "{kind}: {url} gave other bytes"
        );

        let elsewhere = on_other_host(&url);
        let malformed = [
            "",
            "not a url",
            "http://",
            "s3://",
            "https://[::1/x",
            "ftp://example.org/x",
            "file:///etc/passwd",
        ];
        for bad in std::iter::once(elsewhere.as_str()).chain(malformed) {
            assert!(!urls.claims_url(bad), "{kind}: claimed {bad:?}");
            let checked = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                urls.check_url(bad, &annex),
            )
            .await
            .unwrap_or_else(|_| panic!("{kind}: CHECKURL {bad:?} did not end"));
            assert!(checked.is_err(), "{kind}: CHECKURL {bad:?}: {checked:?}");
        }

        if published {
            // A published file stays what its URL names.
            return;
        }
        tree.remove_export(exported(&export_path(name), &annex_key(&c.key), &annex))
            .await
            .expect("remove_export");
        assert!(urls.claims_url(&url), "{kind}: {url} no longer claimed");
        match urls.check_url(&url, &annex).await {
            Err(e) => assert!(
                e.is_not_found(),
                "{kind}: CHECKURL of a removed file: {e:?}"
            ),
            Ok(found) => panic!("{kind}: CHECKURL of a removed file: {found:?}"),
        }
    });
}

/// One module per provider, one test per case.
macro_rules! conformance {
    ($($module:ident: $kind:literal;)*) => {$(
        mod $module {
            conformance!(@cases $kind: keys_round_trip, export_tree,
                many_keys_at_once, fixed_name_keys_are_replaced, absent_is_not_unreachable,
                import_tree, url_claims);
        }
    )*};
    (@cases $kind:literal: $($case:ident),*) => {$(
        #[test]
        fn $case() {
            super::$case($kind);
        }
    )*};
}

/// The paging and body bounds, for every provider with a JSON API.
mod listing_faults {
    #[test]
    fn dataverse() {
        super::listing_faults("dataverse");
    }
    #[test]
    fn figshare() {
        super::listing_faults("figshare");
    }
    #[test]
    fn github() {
        super::listing_faults("github");
    }
}

conformance! {
    directory: "directory";
    s3: "s3";
    dataverse: "dataverse";
    dataverse61: "dataverse61";
    github: "github";
    figshare: "figshare";
    zenodo: "zenodo";
}
