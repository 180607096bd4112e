//! Runs a command with a throwaway PostgreSQL server: starts one ([`wharf_sim::postgres`]),
//! runs the command with `WHARF_TEST_POSTGRES` naming a database on it, stops the server, and
//! exits with the command's status. `tests/run` runs the store's and the engine's tests again
//! this way, so both backends pass the same suite.
//!
//!     with-postgres cargo test --workspace --lib store::

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: with-postgres <command> [args…]  (runs it with WHARF_TEST_POSTGRES set)");
        return ExitCode::from(2);
    };
    let server = match wharf_sim::postgres::Postgres::start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("with-postgres: {e:#}");
            return ExitCode::from(1);
        }
    };
    eprintln!("with-postgres: PostgreSQL on {} for: {}", server.url(), args.join(" "));
    let status = Command::new(program).args(rest).env("WHARF_TEST_POSTGRES", server.url()).status();
    drop(server);
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("with-postgres: the command failed ({s})");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("with-postgres: could not run {program}: {e}");
            ExitCode::from(1)
        }
    }
}
