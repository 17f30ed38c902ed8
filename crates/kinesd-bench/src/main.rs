//! `kinesd-bench`: a load generator for any Kinesis Data Streams endpoint — kinesd, the
//! emulators it is compared with, or the built-in null server that bounds what can be measured.
//!
//! Layout: `cli` (options), `client` (one keep-alive awsJson connection), `control` (stream
//! set-up, iterators), `records` (prebuilt request bodies, send stamps), `workload/` (put, get,
//! mixed, subscribe, scrape, soak), `stats` and `probe` (what is measured), `progress` and `report` (what is shown),
//! `null_server`.

mod cli;
mod client;
mod control;
mod null_server;
mod probe;
mod progress;
mod records;
mod report;
mod signer;
mod stats;
mod workload;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kinesd-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let (mut report, json) = match cli.command {
            Command::Put(args) => {
                let json = args.target.json;
                (workload::put::run(args).await?, json)
            }
            Command::Get(args) => {
                let json = args.target.json;
                (workload::get::run(args).await?, json)
            }
            Command::Mixed(args) => {
                let json = args.target.json;
                (workload::mixed::run(args).await?, json)
            }
            Command::Subscribe(args) => {
                let json = args.target.json;
                (workload::subscribe::run(args).await?, json)
            }
            Command::Scrape(args) => {
                let json = args.target.json;
                (workload::scrape::run(args).await?, json)
            }
            Command::NullServer(args) => return null_server::run(args).await,
            Command::Soak(args) => return workload::soak::run(args).await,
        };
        report.add_derived_notes();
        report.emit(json);
        Ok::<(), String>(())
    });
    // Connections still open in the background must not hold the process.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kinesd-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
