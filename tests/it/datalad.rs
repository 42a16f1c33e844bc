//! Interoperability with DataLad (from PyPI), one table over the providers:
//! each behaviour runs against every store it applies to, as
//! `datalad::PROVIDER::BEHAVIOUR` (S3 on moto_server, a folder, and the
//! fake Dataverse, Figshare and GitHub).
//!
//! - `annex_clone`: whole datasets (history included) through
//!   `datalad-annex::`, the round trip of support/datalad_annex.rs.
//! - `push_clone_get`: `datalad push --data anything` to an annexa remote,
//!   drop (which verifies the remote copy), then a fresh clone gets the
//!   content from it, `whereis` names it and `fsck --from` finds it.
//!
//! Adding a provider: one arm in each `Store` method and one line in
//! `datalad_cases!`.

use crate::support::common;
use crate::support::datalad_annex as support_datalad_annex;
use crate::support::dataverse as support_dataverse;
use crate::support::figshare as support_figshare;
use crate::support::github as support_github;

use std::path::{Path, PathBuf};

use common::{pseudo_random, Moto, Repo};
use support_datalad_annex::{round_trip, RoundTrip, Service};
use support_dataverse::{FakeDataverse, PID};
use support_figshare::{FakeFigshare, ARTICLE};
use support_github::{FakeGithub, GH_REPO, GH_TOKEN};

const SUB_PID: &str = "doi:10.5072/FK2/SUBDS";
const SUB_ARTICLE: u64 = 4243;

const AWS_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", common::AWS_KEY),
    ("AWS_SECRET_ACCESS_KEY", common::AWS_SECRET),
];

/// A running store of one provider kind.
enum Store {
    Directory(tempfile::TempDir),
    S3(Moto),
    Dataverse(FakeDataverse),
    Figshare(FakeFigshare),
    Github(FakeGithub),
}

/// Where a dataset goes on a store.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The superdataset of a round trip.
    Super,
    /// Its subdataset.
    Sub,
    /// The content remote `datalad push` sends to.
    Content,
}

impl Store {
    fn start(kind: &str) -> Store {
        match kind {
            "directory" => Store::Directory(tempfile::tempdir().unwrap()),
            "s3" => Store::S3(Moto::start()),
            "dataverse" => Store::Dataverse(FakeDataverse::start(&["--dataset", SUB_PID])),
            "figshare" => Store::Figshare(FakeFigshare::start(&[
                "--article",
                &SUB_ARTICLE.to_string(),
            ])),
            "github" => Store::Github(FakeGithub::start(&[])),
            other => panic!("no DataLad store for provider={other}"),
        }
    }

    /// Credentials, in the environment as a user gives them.
    fn env(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Store::Directory(_) => &[],
            Store::S3(_) => AWS_ENV,
            Store::Dataverse(_) => &[("DATAVERSE_API_KEY", support_dataverse::TOKEN)],
            Store::Figshare(_) => &[("FIGSHARE_API_KEY", support_figshare::TOKEN)],
            Store::Github(_) => &[("GITHUB_TOKEN", GH_TOKEN)],
        }
    }

    /// The GitHub release tag of `place`.
    fn tag(place: Place) -> &'static str {
        match place {
            Place::Super => "dataset",
            Place::Sub => "subdataset",
            Place::Content => "datalad",
        }
    }

    /// initremote parameters (`name=value`) of `place`.
    fn params(&self, place: Place) -> Vec<String> {
        let (kind, mut params): (&str, Vec<String>) = match self {
            Store::Directory(dir) => {
                let name = match place {
                    Place::Super => "ds",
                    Place::Sub => "sub",
                    Place::Content => "content",
                };
                let path = dir.path().join(name);
                ("directory", vec![format!("directory={}", path.display())])
            }
            Store::S3(moto) => {
                let mut params = vec![
                    "bucket=annexa-datalad".to_string(),
                    "createbucket=yes".into(),
                    format!("endpoint={}", moto.endpoint()),
                ];
                match place {
                    Place::Super => params.push("prefix=ds/".into()),
                    Place::Sub => params.push("prefix=ds-sub/".into()),
                    Place::Content => {}
                }
                ("s3", params)
            }
            Store::Dataverse(fake) => {
                let pid = if place == Place::Sub { SUB_PID } else { PID };
                (
                    "dataverse",
                    vec![format!("url={}", fake.url()), format!("doi={pid}")],
                )
            }
            Store::Figshare(fake) => {
                let article = if place == Place::Sub {
                    SUB_ARTICLE
                } else {
                    ARTICLE
                };
                (
                    "figshare",
                    vec![format!("api={}", fake.api()), format!("article={article}")],
                )
            }
            Store::Github(fake) => (
                "github",
                vec![
                    format!("api={}", fake.api()),
                    format!("repo={GH_REPO}"),
                    format!("tag={}", Store::tag(place)),
                    "createrelease=yes".into(),
                ],
            ),
        };
        if let (Store::Dataverse(_), Place::Content) = (self, place) {
            // Keys in a folder of their own, next to whatever the dataset holds.
            params.push("rootpath=annex".into());
        }
        params.insert(0, format!("provider={kind}"));
        params
    }

    /// Whether the superdataset's repository goes as files
    /// (`exporttree=yes` in its URL); else as keys.
    fn super_exporttree(&self) -> bool {
        matches!(self, Store::Directory(_) | Store::Figshare(_))
    }

    /// Publishes the drafts, where the service has published versions: the
    /// update of a round trip then goes to a new draft.
    fn publish(&self) {
        match self {
            Store::Dataverse(fake) => fake.publish(),
            Store::Figshare(fake) => fake.publish(),
            _ => {}
        }
    }

    /// No request carried a token where it must not go (the storage host of
    /// a fake service).
    fn assert_no_token_leaked(&self) {
        let violations = match self {
            Store::Dataverse(fake) => fake.storage_log().1,
            Store::Figshare(fake) => fake.storage_log().1,
            Store::Github(fake) => fake.storage_log().1,
            Store::Directory(_) | Store::S3(_) => Vec::new(),
        };
        assert!(violations.is_empty(), "{violations:?}");
    }

    /// What the service says it holds at `place`: something, after a push.
    fn assert_holds_content(&self) {
        match self {
            Store::Dataverse(fake) => {
                let files = fake.latest_files();
                assert!(files.len() >= 2, "{files:?}");
            }
            Store::Figshare(fake) => assert!(!fake.files().is_empty()),
            Store::Github(fake) => {
                let names = fake.asset_names(Store::tag(Place::Content));
                assert!(!names.is_empty());
            }
            Store::Directory(dir) => {
                let files = walk(&dir.path().join("content"));
                assert!(!files.is_empty());
            }
            // Drop has verified the copy there; moto offers no other view.
            Store::S3(_) => {}
        }
    }

    /// What a round trip leaves on this store, in the service's own terms.
    fn check_round_trip(&self, done: &RoundTrip) {
        match self {
            Store::Dataverse(_) => {
                // Without a token a clone sees the published version, not
                // the draft.
                Repo::open(done.tmp.path()).ok(&["datalad", "clone", &done.super_url, "anonymous"]);
                let anonymous = Repo::open(&done.tmp.path().join("anonymous"));
                let log = anonymous.ok(&["git", "log", "--format=%s"]);
                assert!(log.contains("subdataset published"), "{log}");
                assert!(!log.contains("add sub-02"), "{log}");
                anonymous.ok(&["datalad", "get", "sub-01/anat/sub-01_T1w.nii.gz"]);
            }
            Store::Github(fake) => {
                let names = fake.asset_names(Store::tag(Place::Super));
                assert!(names.iter().any(|n| n == "XDLRA--refs"), "{names:?}");
            }
            Store::Directory(dir) => {
                // The subdataset's repository is two keys next to its
                // content, the superdataset's (exporttree=yes) two files.
                let files = walk(dir.path());
                for key in ["XDLRA--refs", "XDLRA--repo-export"] {
                    let found = files
                        .iter()
                        .any(|p| p.starts_with(dir.path().join("sub")) && p.ends_with(key));
                    assert!(found, "{key} not in {files:?}");
                }
                for name in ["refs", "repo.zip"] {
                    let path = dir.path().join("ds/.datalad/dotgit").join(name);
                    assert!(files.contains(&path), "{path:?} not in {files:?}");
                }
            }
            Store::Figshare(_) | Store::S3(_) => {}
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect()
}

fn open(dir: &Path, env: &[(&str, &str)]) -> Repo {
    env.iter()
        .fold(Repo::open(dir), |repo, (k, v)| repo.env(k, v))
}

/// A superdataset and its subdataset through `datalad-annex::`, cloned and
/// got back, then an update pushed and fetched (after a publication where
/// the service has them).
fn annex_clone(kind: &str) {
    let store = Store::start(kind);
    let publish = || store.publish();
    let done = round_trip(&Service {
        env: store.env(),
        superds: store.params(Place::Super),
        subds: store.params(Place::Sub),
        super_exporttree: store.super_exporttree(),
        after_first_push: Some(&publish),
    });
    store.check_round_trip(&done);
    store.assert_no_token_leaked();
}

/// `datalad push` to an annexa remote, then clone, get, whereis and fsck.
fn push_clone_get(kind: &str) {
    let store = Store::start(kind);
    let env = store.env();
    let tmp = tempfile::tempdir().unwrap();
    let top = open(tmp.path(), env);
    top.ok(&["datalad", "create", "ds"]);
    let ds = open(&tmp.path().join("ds"), env);
    let data = pseudo_random(3 << 20, 7);
    ds.write("sub-01/anat/sub-01_T1w.nii.gz", &data);
    ds.write("participants.tsv", b"participant_id\tage\nsub-01\t23\n");
    ds.write(
        "sub-01/func/sub-01 task: rest.nii.gz",
        &pseudo_random(4000, 8),
    );
    ds.ok(&["datalad", "save", "-m", "add data"]);
    let mut init = vec![
        "git".to_string(),
        "annex".into(),
        "initremote".into(),
        "store".into(),
        "type=external".into(),
        "externaltype=annexa".into(),
        "encryption=none".into(),
        "autoenable=true".into(),
    ];
    init.extend(store.params(Place::Content));
    ds.ok(&init.iter().map(String::as_str).collect::<Vec<_>>());
    ds.ok(&[
        "datalad", "push", "--to", "store", "--data", "anything", ".",
    ]);
    // The only other copy is the one annexa stored: drop verifies it is there.
    ds.ok(&["git", "annex", "drop", "."]);
    store.assert_holds_content();

    top.ok(&["datalad", "clone", "ds", "clone"]);
    let clone = open(&tmp.path().join("clone"), env);
    clone.ok(&["datalad", "get", "sub-01/anat/sub-01_T1w.nii.gz"]);
    assert_eq!(
        std::fs::read(tmp.path().join("clone/sub-01/anat/sub-01_T1w.nii.gz")).unwrap(),
        data
    );
    clone.ok(&["datalad", "get", "sub-01/func/sub-01 task: rest.nii.gz"]);
    let whereis = clone.ok(&["git", "annex", "whereis", "sub-01/anat/sub-01_T1w.nii.gz"]);
    assert!(whereis.contains("[store]"), "{whereis}");
    clone.ok(&["git", "annex", "fsck", "--from", "store", "--fast", "."]);
    store.assert_no_token_leaked();
}

/// One module per provider, one test per behaviour that applies to it.
macro_rules! datalad_cases {
    ($($kind:ident: [$($case:ident),*];)*) => {$(
        mod $kind {
            $(
                #[test]
                fn $case() {
                    super::$case(stringify!($kind));
                }
            )*
        }
    )*};
}

datalad_cases! {
    s3: [annex_clone, push_clone_get];
    directory: [annex_clone];
    dataverse: [annex_clone, push_clone_get];
    figshare: [annex_clone, push_clone_get];
    github: [annex_clone, push_clone_get];
}

/// docs/publish.md's recipe, run verbatim (with `$HOME` a temporary folder).
#[test]
fn docs_publish_recipe_runs_verbatim() {
    support_datalad_annex::require_datalad_next();
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/publish.md"),
    )
    .unwrap();
    let after = doc
        .split("<!-- recipe: directory -->")
        .nth(1)
        .expect("docs/publish.md marks its recipe");
    let script = after
        .split("```sh\n")
        .nth(1)
        .and_then(|s| s.split("\n```").next())
        .expect("a sh block follows the mark");
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let home = home.to_str().unwrap();
    let top = Repo::open(tmp.path()).env("HOME", home);
    top.ok(&["bash", "-euo", "pipefail", "-c", script]);
    let copy = tmp.path().join("my-study-copy");
    assert_eq!(
        std::fs::read(copy.join("participants.tsv")).unwrap(),
        b"participant_id age\n"
    );
    let whereis = Repo::open(&copy).ok(&["git", "annex", "whereis", "participants.tsv"]);
    assert!(whereis.contains("[store]"), "{whereis}");
}
