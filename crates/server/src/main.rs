//! `pairux-server`: the local PairUX stack in one process. See `pairux_server::Args` for flags;
//! `pairux-server focus …` runs a Session Focus on its own (`pairux_server::focus::standalone`).

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "pairux_server=info".into()),
        )
        .init();
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let result = if argv.get(1).is_some_and(|a| a == "focus") {
        argv.remove(1);
        let cmd = pairux_server::focus::standalone::FocusCommand::parse_from(argv);
        pairux_server::focus::standalone::run(cmd)
            .await
            .map_err(|e| e.to_string())
    } else {
        let args = pairux_server::Args::parse_from(argv);
        pairux_server::serve(args).await.map_err(|e| e.to_string())
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pairux-server: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
