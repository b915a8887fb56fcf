//! Benchmark tool for `make bench` and `make soak`: it measures each budget of docs/DESIGN.md §7
//! and §10 that the companion owns against its baseline on the same data, and says PASS or
//! FAIL for each ([`budgets`]); it also holds the streaming decoder's command for
//! hyperfine, the team relay's budgets ([`relay`]) and the soak run ([`soak`]).
//!
//!   bench-tool bench BIN                  every budget; a table per run in target/bench/,
//!                                         exit 1 when one is missed
//!   bench-tool envs BIN                   the `envs` budgets alone
//!   bench-tool decode FILE                decode FILE, keep the `type=pr` items, print the count
//!   bench-tool relay BIN [SECONDS]        the team relay's budgets under SECONDS (10) of load
//!                                         ([`relay`]); a table in target/bench/relay.md, exit 1
//!                                         when one is missed
//!   bench-tool serve APPS PREVIEWS        serve the benchmarks' scenario until killed; prints
//!                                         its URL and token (to run a baseline by hand)
//!   bench-tool soak BIN [REQUESTS] [EVENTS]  one subscribed host serving REQUESTS (10,000) `list`s
//!                                         while the fake's watch sends EVENTS (1,000) changes;
//!                                         prints RSS and open fds after warm-up and at the end,
//!                                         exits 1 on >10% RSS growth or any fd growth

#![allow(clippy::print_stderr, clippy::print_stdout)] // a benchmark tool talking to the person running it

mod budgets;
mod envs;
mod host;
mod relay;
mod soak;

use std::process::ExitCode;

use companion::argocd::decode::{ListDecoder, decode_reader};
use companion::core::selector::Selector;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let num = |i: usize| arg(i).parse::<usize>().expect("a number");
    match arg(0).as_str() {
        "bench" => budgets::run(&arg(1)),
        "relay" => relay::run(&arg(1), args.get(2).map_or(10, |_| num(2) as u64)),
        "decode" => {
            let selector = Selector::parse("type=pr").unwrap();
            let file = std::fs::File::open(arg(1)).expect("open the list");
            let keep =
                ListDecoder::new().with_filter(move |app: &companion::argocd::Application| {
                    selector.matches(&app.metadata.labels)
                });
            let reader = std::io::BufReader::with_capacity(1 << 16, file);
            let list = decode_reader(reader, keep).expect("decode");
            eprintln!("{} previews", list.items.len());
            ExitCode::SUCCESS
        }
        "serve" => {
            let scenario = fake_argocd::Scenario::at_scale(num(1), num(2));
            let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
            rt.block_on(async {
                let running = fake_argocd::serve(scenario.fake(), "127.0.0.1:0".parse().unwrap())
                    .await
                    .expect("serve the fake Argo CD");
                println!("{} {}", running.url(), scenario.token);
                std::future::pending::<()>().await;
            });
            ExitCode::SUCCESS
        }
        "envs" => {
            let mut checks = Vec::new();
            envs::envs_budgets(&arg(1), &mut checks);
            budgets::print(&checks)
        }
        "soak" => {
            let requests = args.get(2).map_or(10_000, |_| num(2));
            let events = args.get(3).map_or(1_000, |_| num(3));
            soak::soak(&arg(1), requests, events)
        }
        _ => {
            eprintln!("usage: bench-tool bench|envs|relay|decode|serve|soak ...");
            ExitCode::from(2)
        }
    }
}
