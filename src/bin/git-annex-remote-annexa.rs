//! `git-annex-remote-annexa`: the external special remote git-annex runs.
//!
//! Speaks the protocol on stdin/stdout; logs go to stderr only (stdout
//! belongs to the protocol). `ANNEXA_LOG=debug` turns on logging.

use std::process::ExitCode;

#[path = "../cli/remote.rs"]
mod cli;

fn main() -> ExitCode {
    // git-annex starts us with no arguments; these are for people.
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version" | "-V") => {
            println!(
                "git-annex-remote-annexa {} (commit {})",
                env!("CARGO_PKG_VERSION"),
                env!("ANNEXA_GIT_COMMIT")
            );
            return ExitCode::SUCCESS;
        }
        Some("--help" | "-h") => {
            println!("{}", cli::command().render_long_help());
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ANNEXA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_ansi(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            println!("ERROR cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let stdin = tokio::io::BufReader::new(tokio::io::stdin());
        annexa::remote::run(stdin, tokio::io::stdout()).await
    });
    // Do not wait for blocked stdin readers or idle connections.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("git-annex-remote-annexa: {e}");
            ExitCode::FAILURE
        }
    }
}
