use super::Cli;
use clap::CommandFactory;

/// The subcommands a user sees (`guardian --help`), which completions
/// and man pages must all cover.
pub fn visible_subcommands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_owned())
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn the_command_line_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn version_names_the_git_revision() {
    let version = Cli::command().render_version();
    assert!(version.contains(&format!("(git {})", crate::GIT_REVISION)), "{version}");
    assert!(version.starts_with(&format!("guardian {}", env!("CARGO_PKG_VERSION"))), "{version}");
}
