//! The command line of `annexa`, as clap definitions only (clap and std,
//! nothing of the library): the binary parses with it, and `build.rs`
//! includes the same file to render the man page, so the two never differ.
//! Not a module of the library.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "annexa",
    version,
    about = "Exact BIDS subsets of DataLad/git-annex datasets, through a hidden cache",
    after_help = "Examples:\n  annexa ls ///openneuro/ds004712 --sub 01,02 --suffix T1w\n  annexa get ///openneuro/ds004712 --to ./t1 --suffix T1w --ext .nii.gz --jobs 8\n  annexa get DATASET --to ./deriv --scope fmriprep --sub 01 --entity space=MNI152NLin2009cAsym"
)]
pub struct Cli {
    /// Cache folder (default: $XDG_CACHE_HOME/annexa or ~/.cache/annexa)
    #[arg(long, global = true, env = "ANNEXA_CACHE", value_name = "DIR")]
    pub cache: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// List the files the filters select, one relative path per line
    #[command(
        after_help = "Filter values are alternatives: repeat the flag or separate values with commas (--sub 01,02 = --sub 01 --sub 02); different filters must all match.\n\nExamples:\n  annexa ls ///openneuro/ds004712 --sub 01,02 --suffix T1w\n  annexa ls ./ds114 --datatype func --task fingerfootlips -l\n  annexa ls ///openneuro/ds004712 --sub 01 --json"
    )]
    Ls {
        /// Dataset: a git URL, ///NAME, a local path, or a service
        /// (s3://BUCKET/PREFIX, doi:..., Figshare or GitHub release URL)
        source: String,
        #[command(flatten)]
        selection: SelectionArgs,
        /// One JSON object per file (path, key, size, cached, role)
        #[arg(long, conflicts_with = "long")]
        json: bool,
        /// Size, whether it is cached, role (data, sidecar, root, associated) and path
        #[arg(long, short = 'l')]
        long: bool,
    },
    /// Make (or refresh) a DataLad dataset from a service's listing without
    /// downloading: one annexed file per remote file, keyed by the
    /// service's checksums, and an annexa special remote (enabled in every
    /// clone) to get their content
    #[command(
        after_help = "Examples:\n  annexa import s3://openneuro.org/ds004712 ./ds004712\n  annexa import doi:10.7910/DVN/XXXXXX --include 'sub-01/**'\n  annexa import s3://my-bucket/study1 --endpoint http://127.0.0.1:9000 ./study1"
    )]
    Import {
        /// s3://BUCKET/PREFIX, doi:..., a Dataverse dataset URL, a Figshare
        /// article URL or id, a GitHub release URL, or a Zenodo DOI
        /// (doi:10.5281/zenodo.N) or record URL
        source: String,
        /// The dataset's folder (default: named after the source)
        dir: Option<PathBuf>,
        /// Where the source's service is: an S3 endpoint (default:
        /// $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, AWS), else as --dataverse
        /// or --api
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// Dataverse installation for a bare doi: (default: Harvard Dataverse)
        #[arg(long, value_name = "URL")]
        dataverse: Option<String>,
        /// API address of a Figshare, GitHub or Zenodo source (default: the
        /// one its URL implies; https://api.figshare.com/v2,
        /// https://api.github.com, https://zenodo.org/api)
        #[arg(long, value_name = "URL")]
        api: Option<String>,
        /// Import only paths matching GLOB (repeatable; ** crosses folders)
        #[arg(long, value_name = "GLOB")]
        include: Vec<String>,
        /// Leave out paths matching GLOB (repeatable)
        #[arg(long, value_name = "GLOB")]
        exclude: Vec<String>,
        /// Version of a Zenodo record to import (Zenodo's version number,
        /// 1 = first; default: the version named, the latest for a concept
        /// DOI). Refused for other services
        #[arg(long = "version", value_name = "VERSION")]
        dataset_version: Option<String>,
        /// CSV of `size,sha1,path` or `path,size,sha256` rows whose checksums
        /// key the files the service publishes no checksum for
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
        /// Name of the special remote (default: the service's: s3, dataverse,
        /// figshare, github, zenodo)
        #[arg(long, value_name = "NAME")]
        remote_name: Option<String>,
        /// The summary as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Show how `get --shard K/N` would split the selection: files, bytes
    /// and bytes still to fetch per part
    #[command(
        after_help = "Filter values are alternatives: repeat the flag or separate values with commas (--sub 01,02 = --sub 01 --sub 02); different filters must all match.\n\nExamples:\n  annexa plan ///openneuro/ds004712 --shards 4\n  annexa plan ./ds114 --suffix bold --shards 8 --shard-by file --json"
    )]
    Plan {
        /// Dataset: a git URL, ///NAME, a local path, or a service
        /// (s3://BUCKET/PREFIX, doi:..., Figshare or GitHub release URL)
        source: String,
        #[command(flatten)]
        selection: SelectionArgs,
        /// Number of parts
        #[arg(long, value_name = "N")]
        shards: usize,
        /// Split by subject or file (as `get --shard-by`)
        #[arg(long, value_name = "HOW", default_value = "subject", value_parser = ["subject", "file"])]
        shard_by: String,
        /// One JSON object per part
        #[arg(long)]
        json: bool,
    },
    /// Copy the selected files into a folder as real files
    #[command(
        after_help = "Filter values are alternatives: repeat the flag or separate values with commas (--sub 01,02 = --sub 01 --sub 02); different filters must all match.\n\nExamples:\n  annexa get ///openneuro/ds004712 --to ./t1 --sub 01,02 --suffix T1w --ext .nii.gz\n  annexa get ./ds114 --to ./func --datatype func --task fingerfootlips --with-associated -J 8\n  annexa get ./ds114 --to ./ds114-sub01 --sub 01 --update --manifest delivered.jsonl"
    )]
    Get {
        /// Dataset: a git URL, ///NAME, a local path, or a service
        /// (s3://BUCKET/PREFIX, doi:..., Figshare or GitHub release URL)
        source: String,
        /// Target folder; the dataset's relative paths are kept below it
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        #[command(flatten)]
        selection: SelectionArgs,
        /// Parallel downloads
        #[arg(long, short = 'J', default_value_t = 4)]
        jobs: usize,
        /// Show what would be fetched and copied, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Machine-readable records on stdout, one per file, then a summary
        #[arg(long)]
        json: bool,
        /// Free the cache's copy of each key once all its paths are written
        #[arg(long)]
        drop_after: bool,
        /// Make DIR itself a clone of the dataset, selected content unlocked
        #[arg(long)]
        direct: bool,
        /// Check checksums of annexed content, not only sizes
        #[arg(long)]
        verify: bool,
        /// Replace files in DIR whose content differs from the dataset
        /// (otherwise they are reported and nothing is written)
        #[arg(long)]
        force: bool,
        /// Write one JSON line per delivered file (path, size, checksum, key, url)
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
        /// Deliver only part K of N of the selection (1 <= K <= N), e.g. a
        /// job array's task: the N parts are disjoint and cover it exactly
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Split by subject (all of a subject's files in one part) or file
        #[arg(long, value_name = "HOW", default_value = "subject", value_parser = ["subject", "file"])]
        shard_by: String,
    },
    /// Check a delivered copy against its manifest: every file present,
    /// a regular file, of its size and checksum
    #[command(
        after_help = "Examples (after annexa get ./ds114 --to ./out --manifest out.jsonl):\n  annexa verify ./out --manifest out.jsonl\n  annexa verify ./out --manifest out.jsonl --json"
    )]
    Verify {
        /// The folder the files were delivered into
        dir: PathBuf,
        /// The manifest `annexa get --manifest FILE` wrote for that delivery
        /// (one JSON line per file)
        #[arg(long, value_name = "FILE")]
        manifest: PathBuf,
        /// One JSON object per file
        #[arg(long)]
        json: bool,
    },
    /// Inspect or empty the cache
    #[command(
        after_help = "Examples:\n  annexa cache list\n  annexa cache path ///openneuro/ds004712\n  annexa cache clean --all"
    )]
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// Check what annexa needs and can do here: git-annex and its features,
    /// the remote program, the cache, credentials (names only)
    #[command(after_help = "Examples:\n  annexa doctor\n  annexa doctor --json")]
    Doctor {
        /// One JSON object instead of text
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(
        after_help = "Examples:\n  annexa completions bash > ~/.local/share/bash-completion/completions/annexa\n  annexa completions zsh > ~/.zfunc/_annexa\n  annexa completions fish > ~/.config/fish/completions/annexa.fish"
    )]
    Completions {
        #[arg(value_parser = ["bash", "zsh", "fish", "powershell", "elvish"])]
        shell: String,
    },
    /// Write the man pages of annexa and git-annex-remote-annexa into DIR
    #[command(hide = true)]
    Man {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum CacheAction {
    /// Cached datasets: source, size on disk, folder
    #[command(after_help = "Examples:\n  annexa cache list\n  annexa cache list --json")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// The folder of the cached clone of SOURCE
    #[command(
        after_help = "Examples:\n  annexa cache path ///openneuro/ds004712\n  annexa cache path ./ds114"
    )]
    Path { source: String },
    /// Remove the clone of SOURCE, or every clone with --all
    #[command(
        after_help = "Examples:\n  annexa cache clean ///openneuro/ds004712\n  annexa cache clean --all"
    )]
    Clean {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        source: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

/// Filters: values within one filter are alternatives (repeat the flag or
/// separate with commas); different filters must all match.
#[derive(Args)]
#[command(next_help_heading = "Filters (repeat a flag or separate values with commas)")]
pub struct SelectionArgs {
    /// Subject label (01 or sub-01)
    #[arg(long)]
    pub sub: Vec<String>,
    /// Session label
    #[arg(long)]
    pub ses: Vec<String>,
    /// Datatype folder (anat, func, dwi, meg, ...)
    #[arg(long)]
    pub datatype: Vec<String>,
    /// Task label (exact: rest does not select restEyesOpen)
    #[arg(long)]
    pub task: Vec<String>,
    /// Acquisition label
    #[arg(long)]
    pub acq: Vec<String>,
    /// Run index (numeric: 1 selects run-1 and run-01, not run-10)
    #[arg(long)]
    pub run: Vec<String>,
    /// Suffix (T1w, bold, dwi, events, ...)
    #[arg(long)]
    pub suffix: Vec<String>,
    /// Extension (.nii.gz, .json, .ds/ for a directory)
    #[arg(long)]
    pub ext: Vec<String>,
    /// Any other entity as NAME=VALUE (echo=1, dir=AP, space=MNI152NLin2009cAsym)
    #[arg(long, value_name = "NAME=VALUE")]
    pub entity: Vec<String>,
    /// raw (default), derivatives, or a pipeline name under derivatives/
    /// (comma-separated to combine: raw,fmriprep)
    #[arg(long, default_value = "raw")]
    pub scope: Vec<String>,
    /// Root files to bring along (comma-separated globs), or none
    #[arg(long, value_name = "GLOBS")]
    pub root_files: Option<String>,
    /// Do not bring inherited sidecars or sessions/scans tables
    #[arg(long)]
    pub no_inherit: bool,
    /// Bring each selected data file's associated files: events and
    /// physio/stim of functional runs, bval/bvec and the other files of a
    /// recording, channels/electrodes/coordsystem of EEG/MEG/iEEG, sbref,
    /// magnitude partners of field maps
    #[arg(long)]
    pub with_associated: bool,
    /// Branch, tag or commit of the dataset to read
    #[arg(long, value_name = "REF")]
    pub r#ref: Option<String>,
    /// Fetch the dataset's latest state before selecting
    #[arg(long)]
    pub update: bool,
    /// Where the source's service is: the S3 endpoint of an s3:// source
    /// (default: the one its cached copy records, else $AWS_ENDPOINT_URL_S3,
    /// $AWS_ENDPOINT_URL, AWS), the Dataverse installation of a doi:/hdl:
    /// (default: Harvard Dataverse), the API of a Figshare, GitHub or Zenodo
    /// source; for a dataset, a server whose anonymous S3 remotes annexa may
    /// enable
    #[arg(long, value_name = "URL", help_heading = "Source")]
    pub endpoint: Option<String>,
}
