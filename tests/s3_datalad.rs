//! Interoperability with DataLad (from PyPI): a dataset pushed to an
//! annexa S3 remote and fetched back in a fresh clone.

mod common;

use common::{pseudo_random, Moto, Repo};

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
