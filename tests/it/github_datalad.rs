//! Interoperability with DataLad (from PyPI): a dataset pushed to an
//! annexa GitHub Releases remote (the fake GitHub) and fetched back in a
//! fresh clone.

use crate::support::common;
use crate::support::datalad_annex as support_datalad_annex;
use crate::support::github as support_github;

use common::{pseudo_random, Repo};
use support_datalad_annex::{round_trip, Service};
use support_github::{FakeGithub, GH_REPO, GH_TOKEN};

#[test]
fn datalad_annex_clone_through_github() {
    let fake = FakeGithub::start(&[]);
    let place = |tag: &str| {
        vec![
            "provider=github".to_string(),
            format!("api={}", fake.api()),
            format!("repo={GH_REPO}"),
            format!("tag={tag}"),
            "createrelease=yes".to_string(),
        ]
    };
    round_trip(&Service {
        env: &[("GITHUB_TOKEN", GH_TOKEN)],
        superds: place("dataset"),
        subds: place("subdataset"),
        super_exporttree: false,
        after_first_push: None,
    });
    let names = fake.asset_names("dataset");
    assert!(names.iter().any(|n| n == "XDLRA--refs"), "{names:?}");
    let (_, violations) = fake.storage_log();
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn datalad_push_clone_get_through_github() {
    let fake = FakeGithub::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let top = Repo::open(tmp.path()).env("GITHUB_TOKEN", GH_TOKEN);
    top.ok(&["datalad", "create", "ds"]);
    let ds = Repo::open(&tmp.path().join("ds")).env("GITHUB_TOKEN", GH_TOKEN);
    let data = pseudo_random(3 << 20, 7);
    ds.write("sub-01/anat/sub-01_T1w.nii.gz", &data);
    ds.write("participants.tsv", b"participant_id\tage\nsub-01\t23\n");
    ds.write(
        "sub-01/func/sub-01 task: rest.nii.gz",
        &pseudo_random(4000, 8),
    );
    ds.ok(&["datalad", "save", "-m", "add data"]);
    let api = format!("api={}", fake.api());
    let repo = format!("repo={GH_REPO}");
    ds.ok(&[
        "git",
        "annex",
        "initremote",
        "gh",
        "type=external",
        "externaltype=annexa",
        "provider=github",
        "encryption=none",
        &api,
        &repo,
        "tag=datalad",
        "createrelease=yes",
        "autoenable=true",
    ]);
    ds.ok(&["datalad", "push", "--to", "gh", "--data", "anything", "."]);
    // The only other copy is the release: drop verifies it is there.
    ds.ok(&["git", "annex", "drop", "."]);
    assert!(!fake.asset_names("datalad").is_empty());

    top.ok(&["datalad", "clone", "ds", "clone"]);
    let clone = Repo::open(&tmp.path().join("clone")).env("GITHUB_TOKEN", GH_TOKEN);
    clone.ok(&["datalad", "get", "sub-01/anat/sub-01_T1w.nii.gz"]);
    assert_eq!(
        std::fs::read(tmp.path().join("clone/sub-01/anat/sub-01_T1w.nii.gz")).unwrap(),
        data
    );
    clone.ok(&["datalad", "get", "sub-01/func/sub-01 task: rest.nii.gz"]);
    let whereis = clone.ok(&["git", "annex", "whereis", "sub-01/anat/sub-01_T1w.nii.gz"]);
    assert!(whereis.contains("[gh]"), "{whereis}");
    clone.ok(&["git", "annex", "fsck", "--from", "gh", "--fast", "."]);
    let (_, violations) = fake.storage_log();
    assert!(violations.is_empty(), "{violations:?}");
}
