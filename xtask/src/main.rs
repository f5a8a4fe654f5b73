//! `cargo xtask`: the project's developer tasks.
//!
//! ```text
//! cargo xtask demo                      see the whole idea in a few seconds (root)
//! cargo xtask test [-- cargo test args] build guardian, run every test
//! cargo xtask bench [--only S] [--max-routes N]   the issue's benchmarks (root)
//! cargo xtask setup                     nightly + rust-src + bpf-linker for build-ebpf
//! cargo xtask build-ebpf                rebuild guardian/ebpf/guardian.bpf.o (nightly)
//! cargo xtask check-ebpf                fail if the committed eBPF object is stale
//! cargo xtask layers                    guardian's module imports; fail on a cycle
//! cargo xtask man                       the man pages (clap_mangen) into target/man
//! cargo xtask deb [--test]              target/debian/guardian_<version>_<arch>.deb; --test: dpkg it (root)
//! cargo xtask kernels [--only ROW] [--readme]  attribution tests on Debian 11/12/13 kernels (QEMU) and the host
//! ```
//!
//! xtask drives the `guardian` binary through its command line (see the
//! README); it never links the guardian crate, so it keeps building whatever
//! state the daemon is in. Namespaces, the daemon runner, BIRD and metrics
//! come from guardian-test-support, the code the tests use; those panic
//! where something must work, and xtask turns such a panic into a failed
//! command (or a failed benchmark part, see `bench::caught`).

mod bench;
mod cargo;
mod cleanup;
mod config;
mod deb;
mod demo;
mod ebpf;
mod kernels;
mod layers;
#[cfg(test)]
mod layout;
mod man;
mod netlink;
mod packages;
mod prereq;
mod setup;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "guardian's developer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show guardian repairing a deleted route, in two throw-away network namespaces (needs root).
    Demo,
    /// Build guardian, then run every test of the workspace against that binary.
    Test {
        /// Extra arguments for `cargo test` (put test-binary arguments after a second `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build guardian in release and run the benchmarks in throw-away namespaces (needs root).
    Bench(bench::Options),
    /// Install what `build-ebpf` needs: nightly + rust-src, bpf-linker against the nightly's libLLVM.
    Setup,
    /// Build the eBPF object (nightly) into guardian/ebpf/guardian.bpf.o.
    BuildEbpf,
    /// Rebuild the eBPF object in a temporary folder and fail if the committed one is stale.
    CheckEbpf,
    /// Print the imports between guardian's top-level modules; fail on a cycle.
    Layers,
    /// Run the attribution tests on Debian 11/12/13 kernels under QEMU and on the host (needs root).
    Kernels(kernels::Options),
    /// Write guardian's man pages into target/man (generated from its command line).
    Man,
    /// Build the Debian package into target/debian (--test: install, upgrade, remove, purge it; root).
    Deb(deb::Options),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = cleanup::install_signal_handler() {
        eprintln!("error: cannot install the Ctrl-C handler: {err}");
        return ExitCode::FAILURE;
    }
    // A panic (guardian-test-support's way to fail) has been printed by
    // the panic hook; the guards have cleaned up while unwinding.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match cli.command {
        Command::Demo => demo::run(),
        Command::Test { args } => test::run(&args),
        Command::Bench(options) => bench::run(&options),
        Command::Setup => setup::run_setup().map(|()| ExitCode::SUCCESS),
        Command::BuildEbpf => ebpf::build().map(|()| ExitCode::SUCCESS),
        Command::CheckEbpf => ebpf::check().map(|()| ExitCode::SUCCESS),
        Command::Layers => layers::run(),
        Command::Kernels(options) => kernels::run(&options),
        Command::Man => man::run(),
        Command::Deb(options) => deb::run(&options),
    }))
    .unwrap_or(Ok(ExitCode::FAILURE));
    // Whatever happened, leave nothing behind (idempotent: the guards have
    // usually cleaned up already).
    cleanup::run_all();
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
