//! The `blast` binary: everything is in the library; this only sets the allocator (and turns
//! transparent huge pages off, see `blast::sys::no_huge_pages`), the panic message, and returns
//! the exit code.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    blast::sys::no_huge_pages();
    std::panic::set_hook(Box::new(|info| {
        eprintln!("blast: internal error (a bug, please report it): {info}");
    }));
    blast::cli::main()
}
