//! The `tayori` binary: parse the command line and hand over to the library.

/// mimalloc, not glibc's malloc: see the dependency's note in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tayori::cli::main()
}
