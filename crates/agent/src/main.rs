//! `pairux-agent`: applies the input a host granted to a controller to this computer.
//!
//! It listens on 127.0.0.1 only, pairs with one host tab that proves it knows the code printed
//! here, and injects only what that tab's gate accepted for the holders it names (the rules
//! are `pairux_core::agent::Agent`'s; this binary owns the socket, the clock, the randomness,
//! the injector and the emergency hotkey). It logs counts of what it did, never keystrokes.

mod hub;
mod inject;
#[cfg(all(target_os = "linux", feature = "x11"))]
mod x11;

use std::net::{Ipv4Addr, SocketAddr};

use clap::Parser;
use pairux_core::agent::DEFAULT_PORT;

#[derive(Parser, Debug)]
#[command(name = "pairux-agent", version, about)]
struct Args {
    /// Port on 127.0.0.1 to listen on.
    #[arg(long, default_value_t = DEFAULT_PORT, env = "PAIRUX_AGENT_PORT")]
    port: u16,
    /// Origin of a page that may pair (scheme://host:port); repeat for several.
    #[arg(
        long = "origin",
        default_values = ["http://localhost:8080", "http://127.0.0.1:8080"],
    )]
    origins: Vec<String>,
    /// Do not grab Ctrl+Shift+Esc (the emergency revoke) on this computer.
    #[arg(long)]
    no_hotkey: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "pairux_agent=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    if let Err(err) = hub::serve(addr, args.origins, !args.no_hotkey).await {
        eprintln!("pairux-agent: {err}");
        std::process::exit(1);
    }
}
