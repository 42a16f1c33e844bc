//! `annexa`: exact BIDS subsets of DataLad/git-annex datasets through a
//! hidden cache. Argument parsing only; the work is in `annexa::dataset`.

use annexa::bids::{FilterKey, FilterSet, Scope, DEFAULT_ROOT_FILES};
use annexa::dataset::{self, CommonOptions, GetOptions, SelectionRequest};
use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches};
use std::path::PathBuf;

#[path = "../cli/annexa.rs"]
mod cli;
#[path = "../cli/report.rs"]
mod report;
use annexa::dataset::SharedReporter;
use cli::{CacheAction, Cli, Command, SelectionArgs};
use report::{print_line, Console};
use std::process::ExitCode;
use std::sync::Arc;

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
            with_associated: self.with_associated,
        })
    }

    fn common(&self, cache: &Option<PathBuf>, console: &Arc<Console>) -> CommonOptions {
        CommonOptions {
            cache_dir: cache.clone(),
            treeish: self.r#ref.clone(),
            update: self.update,
            endpoint: self.endpoint.clone(),
            reporter: SharedReporter(console.clone()),
        }
    }
}

/// `annexa 0.1.0 (commit abc123456789)`.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ANNEXA_GIT_COMMIT"),
    ")"
);

fn main() -> ExitCode {
    let matches = Cli::command().version(LONG_VERSION).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // Warnings (retries, unreachable servers, unverified lengths) on
    // stderr; `ANNEXA_LOG=debug` for more.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ANNEXA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(console) = CONSOLE.get() {
                console.clear();
            }
            eprintln!("annexa: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The one [`Console`] of this run, also known to the Ctrl-C handler.
static CONSOLE: std::sync::OnceLock<Arc<Console>> = std::sync::OnceLock::new();

fn console(json: bool, quiet: bool) -> Arc<Console> {
    CONSOLE
        .get_or_init(|| Arc::new(Console::new(json, quiet)))
        .clone()
}

/// Ctrl-C: the progress line is cleared and what was done is said before
/// the process ends (git-annex, in the same process group, stops too;
/// files are written under temporary names and renamed when complete, so
/// none is left half-written under its own name).
fn on_interrupt() {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    else {
        return;
    };
    std::thread::spawn(move || {
        if runtime.block_on(tokio::signal::ctrl_c()).is_ok() {
            if let Some(line) = CONSOLE.get().and_then(|c| c.interrupted()) {
                eprintln!("{line}");
            }
            std::process::exit(130);
        }
    });
}

/// One line of `annexa ls`: the path; `--long` adds size, whether it is
/// cached and its role; `--json` one object.
fn listed_line(file: &dataset::ListedFile, json: bool, long: bool) -> String {
    use annexa::dataset::report::shown_path;
    if json {
        return serde_json::json!({
            "path": file.path,
            "key": file.key,
            "size": file.size,
            "cached": file.cached,
            "role": file.role,
        })
        .to_string();
    }
    if !long {
        return shown_path(&file.path).into_owned();
    }
    let size = file
        .size
        .map(|s| indicatif::HumanBytes(s).to_string())
        .unwrap_or_else(|| "?".into());
    let role = match file.role {
        "selected" => "data",
        "root" => "root",
        "inherited" => "sidecar",
        other => other,
    };
    format!(
        "{size:>10}  {:<8}  {role:<10}  {}",
        if file.cached == Some(false) {
            "remote"
        } else {
            "cached"
        },
        shown_path(&file.path)
    )
}

fn run(cli: Cli) -> Result<ExitCode> {
    on_interrupt();
    match cli.command {
        Command::Ls {
            source,
            selection,
            json,
            long,
        } => {
            let request = selection.request()?;
            let console = console(false, false);
            let files = dataset::ls(
                &selection.common(&cli.cache, &console),
                &source,
                &request,
                json || long,
            )?;
            for file in files {
                print_line(&listed_line(&file, json, long));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            source,
            dir,
            endpoint,
            dataverse,
            api,
            include,
            exclude,
            dataset_version,
            manifest,
            remote_name,
            json,
        } => {
            let hints = dataset::ServiceHints {
                endpoint,
                dataverse,
                api,
                ..Default::default()
            };
            let options = dataset::ImportOptions {
                include,
                exclude,
                version: dataset_version,
                manifest,
                remote_name,
                checkout: true,
                reporter: SharedReporter(console(false, json)),
            };
            let (dir, summary) =
                dataset::import_command(&source, dir.as_deref(), &hints, &options)?;
            if json {
                println!("{}", serde_json::to_string(&summary)?);
            } else {
                println!("{}: {}", dir.display(), summary.message());
                if summary.hashed > 0 {
                    println!(
                        "{} file(s) had no published checksum and were read to key them",
                        summary.hashed
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan {
            source,
            selection,
            shards,
            shard_by,
            json,
        } => {
            use annexa::dataset::shard::ShardBy;
            let by = if shard_by == "file" {
                ShardBy::File
            } else {
                ShardBy::Subject
            };
            let request = selection.request()?;
            let common = selection.common(&cli.cache, &console(false, false));
            let parts = dataset::plan(&common, &source, &request, shards, by)?;
            for part in &parts {
                if json {
                    println!("{}", serde_json::to_string(part)?);
                } else {
                    println!(
                        "shard {:>7}: {:>6} files  {:>10}  ({} to fetch)",
                        part.shard,
                        part.files,
                        indicatif::HumanBytes(part.bytes).to_string(),
                        indicatif::HumanBytes(part.bytes_to_fetch)
                    );
                }
            }
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
            manifest,
            shard,
            shard_by,
            force,
        } => {
            use annexa::dataset::shard::{Shard, ShardBy};
            let by = if shard_by == "file" {
                ShardBy::File
            } else {
                ShardBy::Subject
            };
            let shard = shard.map(|s| Shard::parse(&s, by)).transpose()?;
            let request = selection.request()?;
            let options = GetOptions {
                to,
                jobs,
                dry_run,
                drop_after,
                direct,
                verify,
                manifest,
                shard,
                force,
            };
            let common = selection.common(&cli.cache, &console(json, false));
            let outcome = dataset::get(&common, &source, &request, &options)?;
            Ok(if outcome.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Cache { action } => {
            let cache = cli.cache.as_deref();
            match action {
                CacheAction::List { json } => {
                    for entry in dataset::cache_list(cache)? {
                        if json {
                            print_line(&serde_json::to_string(&entry)?);
                        } else {
                            let state = if entry.complete { "" } else { " (incomplete)" };
                            print_line(&format!(
                                "{}\t{}\t{}{state}",
                                entry.source,
                                indicatif::HumanBytes(entry.bytes),
                                entry.path.display()
                            ));
                        }
                    }
                }
                CacheAction::Path { source } => {
                    println!("{}", dataset::cache_path(cache, &source)?.display())
                }
                CacheAction::Clean { source, all } => {
                    let target = if all { None } else { source.as_deref() };
                    let removed =
                        dataset::cache_clean(cache, target, SharedReporter(console(false, false)))
                            .with_context(|| "cleaning the cache")?;
                    for (name, bytes) in removed {
                        println!("removed {name} ({})", indicatif::HumanBytes(bytes));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            dir,
            manifest,
            json,
        } => {
            let findings = dataset::verify(&dir, &manifest)?;
            let mut bad = 0;
            for finding in &findings {
                if json {
                    println!("{}", serde_json::to_string(finding)?);
                }
                use annexa::dataset::manifest::Finding;
                let line = match finding {
                    Finding::Ok { .. } => continue,
                    Finding::Missing { path } => format!("missing: {path}"),
                    Finding::NotAFile { path } => format!("not a regular file: {path}"),
                    Finding::Changed { path, why } => format!("changed: {path} ({why})"),
                };
                bad += 1;
                if !json {
                    println!("{line}");
                }
            }
            eprintln!(
                "annexa: {} of {} files verified{}",
                findings.len() - bad,
                findings.len(),
                if bad > 0 {
                    format!(", {bad} not")
                } else {
                    String::new()
                }
            );
            Ok(if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Doctor { json } => {
            let cache = dataset::cache_dir(cli.cache.as_deref())?;
            let report = annexa::doctor::examine(LONG_VERSION, &cache);
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print_report(&report);
            }
            Ok(if report.healthy() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Completions { shell } => {
            let shell: clap_complete::Shell = shell
                .parse()
                .map_err(|e| anyhow::anyhow!("unknown shell {shell}: {e}"))?;
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "annexa", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, page) in MAN_PAGES {
                let path = dir.join(name);
                std::fs::write(&path, page)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Both programs' man pages, rendered at build time from their clap
/// definitions (build.rs).
const MAN_PAGES: &[(&str, &str)] = &[
    (
        "annexa.1",
        include_str!(concat!(env!("OUT_DIR"), "/annexa.1")),
    ),
    (
        "git-annex-remote-annexa.1",
        include_str!(concat!(env!("OUT_DIR"), "/git-annex-remote-annexa.1")),
    ),
];

fn print_report(report: &annexa::doctor::Report) {
    use annexa::doctor::Status;
    println!("annexa {}", report.version);
    for check in &report.checks {
        let mark = match check.status {
            Status::Ok => "ok     ",
            Status::Info => "       ",
            Status::Warn => "warn   ",
            Status::Missing => "MISSING",
        };
        println!("{mark} {}: {}", check.name, check.detail);
        if let Some(fix) = &check.fix {
            println!("        fix: {fix}");
        }
    }
    if !report.healthy() {
        println!("annexa cannot work fully here: see MISSING above.");
    }
}
