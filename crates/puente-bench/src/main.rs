//! `puente-bench`: benchmarks and the fault suite for Puente, driving the
//! real `puente` binary as child processes (see docs/benchmarks.md).
//!
//!   cargo build --release -p puente -p puente-bench
//!   target/release/puente-bench bench            # both setups, medians of 3 runs
//!   target/release/puente-bench bench --find-max # the highest sustained rate that holds
//!   target/release/puente-bench soak --rate 150 --duration 2h
//!   target/release/puente-bench faults --intents 10000
//!   target/release/puente-bench examples         # docs/examples, Node and Python
//!   target/release/puente-bench pickup           # lag of the terminal's pick-up
//!   target/release/puente-bench export           # a 100,000-intent CSV export's memory

mod bench;
mod cpu;
mod examples;
mod export;
mod faults;
mod load;
mod pgstat;
mod pickup;
mod procs;
mod receiver;
mod soak;
mod stack;
mod sustain;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "puente-bench", about = "Puente benchmarks and fault suite")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum Which {
    Embedded,
    Pg,
    Both,
}

impl Which {
    pub fn setups(self) -> Vec<stack::Setup> {
        match self {
            Which::Embedded => vec![stack::Setup::Embedded],
            Which::Pg => vec![stack::Setup::PgRedis],
            Which::Both => vec![stack::Setup::Embedded, stack::Setup::PgRedis],
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Throughput, latency, fan-out, RSS and the physical reference.
    Bench(bench::Args),
    /// A constant offered rate for hours: memory and backlog over time, and
    /// whether they stay flat.
    Soak(soak::Args),
    /// Push intents through the fault matrix and check every one.
    Faults(faults::Args),
    /// Run the Node and Python examples in docs/examples against `puente all`.
    Examples(examples::Args),
    /// How soon Puente shows the terminal's pick-up (`at_terminal`).
    Pickup(pickup::Args),
    /// The CSV export of a large history, and the web process's memory.
    Export(export::Args),
    /// (internal) the trivial actix-web endpoint used as a reference.
    Hello {
        #[arg(long)]
        addr: String,
    },
    /// (internal) round-robin TCP proxy in front of several `puente web`.
    Proxy {
        #[arg(long)]
        listen: String,
        #[arg(long)]
        to: Vec<String>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Cmd::Hello { addr } = &cli.cmd {
        return match receiver::run_hello(addr) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("hello: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if let Cmd::Proxy { listen, to } = &cli.cmd {
        return match receiver::run_proxy(listen, to) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("proxy: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let res = rt.block_on(async {
        match cli.cmd {
            Cmd::Bench(a) => bench::run(a).await,
            Cmd::Soak(a) => soak::run(a).await,
            Cmd::Faults(a) => faults::run(a).await,
            Cmd::Examples(a) => examples::run(a).await,
            Cmd::Pickup(a) => pickup::run(a).await,
            Cmd::Export(a) => export::run(a).await,
            Cmd::Hello { .. } | Cmd::Proxy { .. } => unreachable!(),
        }
    });
    match res {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("puente-bench: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
