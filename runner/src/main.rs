//! `runner`: parse → run → exit code.

/// A backfill allocates and frees a value per column per row; glibc's allocator spent about a
/// third of the process's time on that (perf, 1,000,000 rows, two workers).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = <runner::cli::Cli as clap::Parser>::parse();
    std::process::ExitCode::from(runner::cli::main(args) as u8)
}
