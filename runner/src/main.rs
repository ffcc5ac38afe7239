//! `runner`: parse → run → exit code.

fn main() -> std::process::ExitCode {
    let args = <runner::cli::Cli as clap::Parser>::parse();
    std::process::ExitCode::from(runner::cli::main(args) as u8)
}
