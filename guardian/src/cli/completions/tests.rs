use super::*;

#[test]
fn every_shell_completes_every_subcommand() {
    let names = crate::cli::tests::visible_subcommands();
    assert!(names.len() >= 10, "{names:?}");
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let text = String::from_utf8(script(shell)).expect("UTF-8");
        for name in &names {
            assert!(text.contains(name.as_str()), "{shell:?} completion lacks `{name}`");
        }
    }
}
