//! The matrix's table (markdown), and README.md's copy of it.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::suite::Outcome;

const BEGIN: &str = "<!-- kernel-matrix:begin (cargo xtask kernels --readme) -->";
const END: &str = "<!-- kernel-matrix:end -->";

/// One line per row: kernel, where it comes from, the variant guardian
/// chose (or was forced to), the tests, what the kernel lacks.
pub fn markdown(results: &[(&str, Option<&str>, Outcome)]) -> String {
    let mut out =
        String::from("| kernel | from | variant | attribution tests | missing there |\n|---|---|---|---|---|\n");
    for (label, force, o) in results {
        let tests = if o.unfinished {
            format!("did not finish ({} passed, {} failed)", o.passed.len(), o.failed.len())
        } else if o.failed.is_empty() {
            format!("{} passed", o.passed.len())
        } else {
            format!("{} passed, {} failed: {}", o.passed.len(), o.failed.len(), o.failed.join(", "))
        };
        let variant = match force {
            Some(f) => format!("`{}` (forced {f})", o.variant),
            None => format!("`{}`", o.variant),
        };
        let missing = if o.missing.is_empty() { "nothing".to_owned() } else { o.missing.clone() };
        let kernel = if o.kernel.is_empty() { "?" } else { o.kernel.as_str() };
        out.push_str(&format!("| {kernel} | {label} | {variant} | {tests} | {missing} |\n"));
    }
    out
}

/// Replaces what lies between the markers in README.md with `table`.
pub fn update_readme(readme: &Path, table: &str) -> Result<()> {
    let text = std::fs::read_to_string(readme).with_context(|| format!("reading {}", readme.display()))?;
    let (Some(begin), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        bail!("{} has no kernel-matrix markers", readme.display());
    };
    let updated = format!("{}{BEGIN}\n{table}{}", &text[..begin], &text[end..]);
    std::fs::write(readme, updated).with_context(|| format!("writing {}", readme.display()))
}

#[cfg(test)]
mod tests;
