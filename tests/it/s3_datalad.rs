//! Interoperability with DataLad (from PyPI): a dataset pushed to an
//! annexa S3 remote and fetched back in a fresh clone; whole datasets
//! (history included) through `datalad-annex::` on S3 and on the
//! directory provider.

use crate::support::common;
use crate::support::datalad_annex as support_datalad_annex;

use common::{pseudo_random, Moto, Repo};
use support_datalad_annex::{round_trip, Service};

const AWS_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", common::AWS_KEY),
    ("AWS_SECRET_ACCESS_KEY", common::AWS_SECRET),
];

#[test]
fn datalad_annex_clone_through_s3() {
    let moto = Moto::start();
    let endpoint = format!("endpoint={}", moto.endpoint());
    let place = |prefix: &str| {
        vec![
            "provider=s3".to_string(),
            "bucket=annexa-whole".to_string(),
            "createbucket=yes".to_string(),
            format!("prefix={prefix}"),
            endpoint.clone(),
        ]
    };
    round_trip(&Service {
        env: AWS_ENV,
        superds: place("ds/"),
        subds: place("ds-sub/"),
        super_exporttree: false,
        after_first_push: None,
    });
}

#[test]
fn datalad_annex_clone_through_directory() {
    let store = tempfile::tempdir().unwrap();
    let place = |name: &str| {
        vec![
            "provider=directory".to_string(),
            format!("directory={}", store.path().join(name).display()),
        ]
    };
    let _done = round_trip(&Service {
        env: &[],
        superds: place("ds"),
        subds: place("sub"),
        super_exporttree: true,
        after_first_push: None,
    });
    // The subdataset's repository is two keys next to its content, the
    // superdataset's (exporttree=yes) two files.
    let files = walk(store.path());
    for key in ["XDLRA--refs", "XDLRA--repo-export"] {
        let found = files
            .iter()
            .any(|p| p.starts_with(store.path().join("sub")) && p.ends_with(key));
        assert!(found, "{key} not in {files:?}");
    }
    for name in ["refs", "repo.zip"] {
        let path = store.path().join("ds/.datalad/dotgit").join(name);
        assert!(files.contains(&path), "{path:?} not in {files:?}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn datalad_push_clone_get_through_annexa() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let top = Repo::open(tmp.path())
        .env("AWS_ACCESS_KEY_ID", common::AWS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::AWS_SECRET);
    top.ok(&["datalad", "create", "ds"]);
    let ds = Repo::open(&tmp.path().join("ds"))
        .env("AWS_ACCESS_KEY_ID", common::AWS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::AWS_SECRET);
    let data = pseudo_random(3 << 20, 42);
    ds.write("sub-01/anat/sub-01_T1w.nii.gz", &data);
    ds.write(
        "sub-01/func/sub-01 task rest.nii.gz",
        &pseudo_random(5000, 43),
    );
    ds.ok(&["datalad", "save", "-m", "add data"]);

    let endpoint = format!("endpoint={}", moto.endpoint());
    ds.ok(&[
        "git",
        "annex",
        "initremote",
        "s3",
        "type=external",
        "externaltype=annexa",
        "provider=s3",
        "createbucket=yes",
        "encryption=none",
        "bucket=annexa-datalad",
        &endpoint,
        "autoenable=true",
    ]);
    ds.ok(&["datalad", "push", "--to", "s3", "--data", "anything", "."]);
    // The only copy left is the one annexa stored: drop checks it is there.
    ds.ok(&["git", "annex", "drop", "."]);

    top.ok(&["datalad", "clone", "ds", "clone"]);
    let clone = Repo::open(&tmp.path().join("clone"))
        .env("AWS_ACCESS_KEY_ID", common::AWS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::AWS_SECRET);
    clone.ok(&["datalad", "get", "sub-01/anat/sub-01_T1w.nii.gz"]);
    assert_eq!(
        std::fs::read(tmp.path().join("clone/sub-01/anat/sub-01_T1w.nii.gz")).unwrap(),
        data
    );
    clone.ok(&["datalad", "get", "sub-01/func/sub-01 task rest.nii.gz"]);
    let whereis = clone.ok(&["git", "annex", "whereis", "sub-01/anat/sub-01_T1w.nii.gz"]);
    assert!(whereis.contains("[s3]"), "{whereis}");
    clone.ok(&["git", "annex", "fsck", "."]);
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
