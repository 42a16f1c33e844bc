//! The command line of `git-annex-remote-annexa`, as a clap definition for
//! its `--help` and man page (git-annex itself starts the program with no
//! arguments and speaks the protocol on stdin/stdout). Included by the
//! binary and by `build.rs`; not a module of the library.

pub fn command() -> clap::Command {
    clap::Command::new("git-annex-remote-annexa")
        .version(env!("CARGO_PKG_VERSION"))
        .about("git-annex external special remote for S3, Dataverse, Figshare, GitHub Releases and Zenodo")
        .long_about(
            "git-annex starts this program itself and speaks its external special remote \
             protocol with it on stdin/stdout. Make a remote with:\n\n  \
             git annex initremote NAME type=external externaltype=annexa encryption=none \
             provider=s3 bucket=BUCKET\n\n\
             Every parameter of every provider, with a description, is listed by\n  \
             git annex initremote NAME type=external externaltype=annexa --whatelse",
        )
        .after_help(
            "Environment:\n  \
             ANNEXA_LOG          log filter (tracing syntax, e.g. debug), to stderr\n  \
             ANNEXA_MAX_RATE     download bandwidth limit, e.g. 10MiB\n  \
             ANNEXA_TIMEOUT      seconds a server may stay silent before annexa gives up on the attempt (60)\n  \
             ANNEXA_NO_ASYNC=1   do not use the ASYNC extension\n  \
             AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN   S3 credentials\n  \
             DATAVERSE_API_KEY   Dataverse token\n  \
             FIGSHARE_API_KEY    Figshare token\n  \
             GITHUB_TOKEN        GitHub token\n  \
             ZENODO_TOKEN        Zenodo (InvenioRDM) personal access token",
        )
}
