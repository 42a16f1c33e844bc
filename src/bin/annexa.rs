//! `annexa`: exact BIDS subsets of DataLad/git-annex datasets through a
//! hidden cache. Argument parsing only; the work is in `annexa::dataset`.

use annexa::bids::{FilterKey, FilterSet, Scope, DEFAULT_ROOT_FILES};
use annexa::dataset::{self, CommonOptions, GetOptions, SelectionRequest};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "annexa",
    version,
    about = "Exact BIDS subsets of DataLad/git-annex datasets, through a hidden cache",
    after_help = "Examples:\n  annexa ls ///openneuro/ds004712 --sub 01,02 --suffix T1w\n  annexa get ///openneuro/ds004712 --to ./t1 --suffix T1w --ext .nii.gz --jobs 8\n  annexa get DATASET --to ./deriv --scope fmriprep --sub 01 --entity space=MNI152NLin2009cAsym"
)]
struct Cli {
    /// Cache folder (default: $XDG_CACHE_HOME/annexa or ~/.cache/annexa)
    #[arg(long, global = true, env = "ANNEXA_CACHE", value_name = "DIR")]
    cache: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the files the filters select, one relative path per line
    Ls {
        /// Dataset: a git URL, ///NAME, or a local path
        source: String,
        #[command(flatten)]
        selection: SelectionArgs,
        /// One JSON object per file (path, key, size, cached, role)
        #[arg(long)]
        json: bool,
    },
    /// Copy the selected files into a folder as real files
    Get {
        /// Dataset: a git URL, ///NAME, or a local path
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
    },
    /// Inspect or empty the cache
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
}

#[derive(Subcommand)]
enum CacheAction {
    /// Cached datasets: source, size on disk, folder
    List {
        #[arg(long)]
        json: bool,
    },
    /// The folder of the cached clone of SOURCE
    Path { source: String },
    /// Remove the clone of SOURCE, or every clone with --all
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
struct SelectionArgs {
    /// Subject label (01 or sub-01)
    #[arg(long)]
    sub: Vec<String>,
    /// Session label
    #[arg(long)]
    ses: Vec<String>,
    /// Datatype folder (anat, func, dwi, meg, ...)
    #[arg(long)]
    datatype: Vec<String>,
    /// Task label (exact: rest does not select restEyesOpen)
    #[arg(long)]
    task: Vec<String>,
    /// Acquisition label
    #[arg(long)]
    acq: Vec<String>,
    /// Run index (numeric: 1 selects run-1 and run-01, not run-10)
    #[arg(long)]
    run: Vec<String>,
    /// Suffix (T1w, bold, dwi, events, ...)
    #[arg(long)]
    suffix: Vec<String>,
    /// Extension (.nii.gz, .json, .ds/ for a directory)
    #[arg(long)]
    ext: Vec<String>,
    /// Any other entity as NAME=VALUE (echo=1, dir=AP, space=MNI152NLin2009cAsym)
    #[arg(long, value_name = "NAME=VALUE")]
    entity: Vec<String>,
    /// raw (default), derivatives, or a pipeline name under derivatives/
    #[arg(long, default_value = "raw")]
    scope: Vec<String>,
    /// Root files to bring along (comma-separated globs), or none
    #[arg(long, value_name = "GLOBS")]
    root_files: Option<String>,
    /// Do not bring inherited sidecars or sessions/scans tables
    #[arg(long)]
    no_inherit: bool,
    /// Branch, tag or commit of the dataset to read
    #[arg(long, value_name = "REF")]
    r#ref: Option<String>,
    /// Fetch the dataset's latest state before selecting
    #[arg(long)]
    update: bool,
}

impl SelectionArgs {
    fn request(&self) -> Result<SelectionRequest> {
        let mut filters = FilterSet::new();
        let entity = |name: &str| FilterKey::Entity(name.to_string());
        filters.add(entity("sub"), &self.sub)?;
        filters.add(entity("ses"), &self.ses)?;
        filters.add(entity("task"), &self.task)?;
        filters.add(entity("acq"), &self.acq)?;
        filters.add(entity("run"), &self.run)?;
        filters.add(FilterKey::Datatype, &self.datatype)?;
        filters.add(FilterKey::Suffix, &self.suffix)?;
        filters.add(FilterKey::Extension, &self.ext)?;
        for assignment in &self.entity {
            filters.add_assignment(assignment)?;
        }
        let scopes = self
            .scope
            .iter()
            .flat_map(|s| s.split(','))
            .map(Scope::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let root_files = match self.root_files.as_deref() {
            None => DEFAULT_ROOT_FILES.iter().map(|s| s.to_string()).collect(),
            Some("none") | Some("") => Vec::new(),
            Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
        };
        Ok(SelectionRequest {
            filters,
            scopes,
            root_files,
            inherit: !self.no_inherit,
        })
    }

    fn common(&self, cache: &Option<PathBuf>) -> CommonOptions {
        CommonOptions {
            cache_dir: cache.clone(),
            treeish: self.r#ref.clone(),
            update: self.update,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("annexa: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Ls {
            source,
            selection,
            json,
        } => {
            let request = selection.request()?;
            dataset::ls(&selection.common(&cli.cache), &source, &request, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Get {
            source,
            to,
            selection,
            jobs,
            dry_run,
            json,
            drop_after,
            direct,
            verify,
        } => {
            let request = selection.request()?;
            let options = GetOptions {
                to,
                jobs,
                dry_run,
                json,
                drop_after,
                direct,
                verify,
            };
            let outcome = dataset::get(&selection.common(&cli.cache), &source, &request, &options)?;
            Ok(if outcome.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Cache { action } => {
            let cache = cli.cache.as_deref();
            match action {
                CacheAction::List { json } => dataset::cache_list(cache, json)?,
                CacheAction::Path { source } => {
                    println!("{}", dataset::cache_path(cache, &source)?.display())
                }
                CacheAction::Clean { source, all } => {
                    let target = if all { None } else { source.as_deref() };
                    let removed = dataset::cache_clean(cache, target)
                        .with_context(|| "cleaning the cache")?;
                    for (name, bytes) in removed {
                        println!("removed {name} ({})", indicatif::HumanBytes(bytes));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
