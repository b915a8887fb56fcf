//! Benchmark helper for `scripts/bench.sh` (DESIGN §7): writes a realistic ApplicationList,
//! serves it from the fake Argo CD, and decodes a file with the companion's streaming
//! decoder, so each budget is measured on the same data as its `jq` baseline.
//!
//!   bench-tool gen FILE APPS PREVIEWS     write an unprojected ApplicationList
//!   bench-tool decode FILE                decode FILE, keep the `type=pr` items, print the count
//!   bench-tool serve PORTFILE APPS PREVIEWS  serve a fake Argo CD until killed; writes its URL to PORTFILE

#![allow(clippy::print_stderr)] // a benchmark tool talking to the person running it

use std::process::ExitCode;

use companion::argocd::decode::{ListDecoder, decode_reader};
use companion::core::selector::Selector;
use companion::fake::{self, FakeArgo};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let num = |i: usize| arg(i).parse::<usize>().expect("a number");
    match arg(0).as_str() {
        "gen" => {
            let apps = fake::generated(num(2), num(3));
            fake::write_list(std::path::Path::new(&arg(1)), &apps).expect("write the list");
        }
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
        }
        "serve" => {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let state = FakeArgo::with_apps("bench-token", fake::generated(num(2), num(3)));
                let running = fake::serve(state, "127.0.0.1:0".parse().unwrap())
                    .await
                    .unwrap();
                std::fs::write(arg(1), running.url()).unwrap();
                std::future::pending::<()>().await;
            });
        }
        _ => {
            eprintln!("usage: bench-tool gen|decode|serve ...");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
