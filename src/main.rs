//! The `blast` binary: everything is in the library; this only sets the allocator and the
//! panic message, and returns the exit code.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("blast: internal error (a bug, please report it): {info}");
    }));
    blast::cli::main()
}
