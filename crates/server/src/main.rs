//! `pairux-server`: the local PairUX stack in one process. See `pairux_server::Args` for flags.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "pairux_server=info".into()),
        )
        .init();
    let args = pairux_server::Args::parse();
    match pairux_server::serve(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pairux-server: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
