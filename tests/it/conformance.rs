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

use crate::support::annex::annex_key;
use annexa::providers::{self, ImportSink, ImportableFile, Provider, ProviderError};
use common::{pseudo_random, Moto, AWS_KEY, AWS_SECRET};
use support_annex::{sha256e_key, MemAnnex};
use support_dataverse::{FakeDataverse, PID, TOKEN};
use support_figshare::FakeFigshare;
use support_github::{FakeGithub, GH_REPO, GH_TOKEN};
use support_zenodo::FakeZenodo;

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
                    4343
                } else {
                    support_figshare::ARTICLE
                };
                fake.admin("POST", &format!("article?id={article}"));
                config.push(("api".into(), fake.api()));
                config.push(("article".into(), article.to_string()));
            }
            Service::Zenodo(fake) => {
                // Keys and the tree in different drafts, as users would.
                let record = if export { 4343 } else { support_zenodo::RECORD };
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
    set_credentials();
    let service = Service::start(kind);
    let tmp = tempfile::tempdir().unwrap();
    let annex = annex_with(&service.config(false));
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
    set_credentials();
    let service = Service::start(kind);
    let tmp = tempfile::tempdir().unwrap();
    let annex = annex_with(&service.config(true));
    runtime().block_on(async {
        let p = prepared(&annex, kind).await;
        let tree = p.export().expect("an export-capable provider");
        let c = content(tmp.path(), 70_000, 2);
        let name = "sub-01/anat/scan notes ünïcode #1.txt";
        let renamed = "sub-01/func/renamed ünïcode.txt";

        assert!(!tree
            .check_present_export(name, &annex_key(&c.key), &annex)
            .await
            .unwrap());
        tree.store_export(name, &annex_key(&c.key), &c.file, &annex)
            .await
            .expect("store_export");
        assert!(tree
            .check_present_export(name, &annex_key(&c.key), &annex)
            .await
            .unwrap());
        tree.store_export(name, &annex_key(&c.key), &c.file, &annex)
            .await
            .expect("store_export again");

        let dest = tmp.path().join("exported");
        tree.retrieve_export(name, &annex_key(&c.key), &dest, &annex)
            .await
            .expect("retrieve_export");
        assert!(std::fs::read(&dest).unwrap() == c.data);

        match tree
            .rename_export(name, &annex_key(&c.key), renamed, &annex)
            .await
        {
            Ok(()) => {
                assert!(!tree
                    .check_present_export(name, &annex_key(&c.key), &annex)
                    .await
                    .unwrap());
                assert!(tree
                    .check_present_export(renamed, &annex_key(&c.key), &annex)
                    .await
                    .unwrap());
                tree.remove_export(renamed, &annex_key(&c.key), &annex)
                    .await
                    .expect("remove_export");
            }
            // git-annex falls back to remove + store; nothing may have moved.
            Err(ProviderError::Unsupported(_)) => {
                assert!(tree
                    .check_present_export(name, &annex_key(&c.key), &annex)
                    .await
                    .unwrap());
                tree.remove_export(name, &annex_key(&c.key), &annex)
                    .await
                    .expect("remove_export");
            }
            Err(e) => panic!("rename_export: {e:?}"),
        }
        assert!(!tree
            .check_present_export(renamed, &annex_key(&c.key), &annex)
            .await
            .unwrap());
        assert!(!tree
            .check_present_export(name, &annex_key(&c.key), &annex)
            .await
            .unwrap());
        tree.remove_export(name, &annex_key(&c.key), &annex)
            .await
            .expect("removing an absent export succeeds");
        tree.remove_export_directory("sub-01/anat", &annex)
            .await
            .expect("remove directory");
        tree.remove_export_directory("no/such/dir", &annex)
            .await
            .expect("remove missing directory");
    });
}

/// Names that would leave the tree, or mean another object, are refused
/// before anything is written.
fn export_refuses_escaping_names(kind: &str) {
    set_credentials();
    let service = Service::start(kind);
    let tmp = tempfile::tempdir().unwrap();
    let annex = annex_with(&service.config(true));
    runtime().block_on(async {
        let p = prepared(&annex, kind).await;
        let tree = p.export().expect("an export-capable provider");
        let c = content(tmp.path(), 1000, 3);
        for bad in [
            "../escape.txt",
            "a/../../escape.txt",
            "a//b.txt",
            "/abs.txt",
            "",
            "a/",
            "./a.txt",
        ] {
            let stored = tree
                .store_export(bad, &annex_key(&c.key), &c.file, &annex)
                .await;
            assert!(stored.is_err(), "store_export accepted {bad:?}");
            let dest = tmp.path().join("refused");
            let got = tree
                .retrieve_export(bad, &annex_key(&c.key), &dest, &annex)
                .await;
            assert!(got.is_err(), "retrieve_export accepted {bad:?}");
        }
        if let Service::Directory(dir) = &service {
            // Nothing landed outside the export folder.
            let outside: Vec<_> = walkdir::WalkDir::new(dir.path())
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .filter(|e| !e.path().starts_with(dir.path().join("tree")))
                .map(|e| e.path().to_path_buf())
                .collect();
            assert!(outside.is_empty(), "written outside the tree: {outside:?}");
        }
    });
}

/// 50 keys stored, checked and retrieved at once by one provider instance,
/// as ASYNC jobs share it.
fn many_keys_at_once(kind: &str) {
    set_credentials();
    let service = Service::start(kind);
    let tmp = tempfile::tempdir().unwrap();
    let annex = Arc::new(annex_with(&service.config(false)));
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
    set_credentials();
    // The stall timeout covers bodies too: short, so a stall costs seconds.
    std::env::set_var("ANNEXA_TIMEOUT", "2");
    let service = Service::start(kind);
    let tmp = tempfile::tempdir().unwrap();
    let annex = annex_with(&service.config(false));
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

macro_rules! conformance {
    ($($module:ident: $kind:literal;)*) => {$(
        mod $module {
            #[test]
            fn keys_round_trip() {
                super::keys_round_trip($kind);
            }
            #[test]
            fn export_tree() {
                super::export_tree($kind);
            }
            #[test]
            fn export_refuses_escaping_names() {
                super::export_refuses_escaping_names($kind);
            }
            #[test]
            fn many_keys_at_once() {
                super::many_keys_at_once($kind);
            }
            #[test]
            fn fixed_name_keys_are_replaced() {
                super::fixed_name_keys_are_replaced($kind);
            }
            #[test]
            fn absent_is_not_unreachable() {
                super::absent_is_not_unreachable($kind);
            }
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
