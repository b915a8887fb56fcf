//! The `preview-switch` binary: everything lives in the `companion` library.
fn main() -> std::process::ExitCode {
    companion::main(std::env::args_os().collect())
}
