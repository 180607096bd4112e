//! `wharf`: the host's command line.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!(
                "{}",
                serde_json::json!({"error": "host", "message": format!("cannot start the async runtime: {e}")})
            );
            return std::process::ExitCode::from(cli::EXIT_HOST);
        }
    };
    let code = runtime.block_on(cli::run(args));
    // A command that is done does not wait for work it left behind (a sandbox that stopped on
    // time with a call still in flight).
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    code
}
