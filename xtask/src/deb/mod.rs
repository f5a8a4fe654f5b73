//! `cargo xtask deb [--test]`: the Debian package,
//! `target/debian/guardian_<version>_<arch>.deb`, staged from the release
//! binary and `packaging/`, and packed with `dpkg-deb` (no packaging tool to
//! install: dpkg-deb, dpkg-shlibdeps and gzip come with Debian's dpkg-dev).
//!
//! ```text
//! /usr/bin/guardian                               the release binary (debug info stripped)
//! /usr/lib/systemd/system/guardian.service        packaging/guardian.service
//! /etc/guardian/guardian.toml                     packaging/guardian.toml (conffile: no routes)
//! /etc/iproute2/rt_protos.d/guardian.conf         packaging/rt_protos.d/ (conffile: 201 guardian)
//! /usr/share/man/man1/guardian*.1.gz              `guardian man` (clap_mangen)
//! /usr/share/bash-completion/completions/guardian `guardian completions bash`
//! /usr/share/zsh/vendor-completions/_guardian     `guardian completions zsh`
//! /usr/share/fish/vendor_completions.d/guardian.fish
//! /usr/share/doc/guardian/                        copyright, README.md, docs/, examples/ (alerts, dashboard)
//! DEBIAN/postinst, prerm, postrm                  packaging/debian/ (the guardian-ctl group, the unit)
//! ```
//!
//! `--test` installs, upgrades, removes and purges it with dpkg on this
//! machine (root), checking each step (`test.rs`).

mod test;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::cargo::{self, Profile};

pub const PACKAGE: &str = "guardian";

#[derive(clap::Args)]
pub struct Options {
    /// Then install, upgrade, remove and purge it with dpkg on this machine (root).
    #[arg(long)]
    test: bool,
}

/// A staged tree and what it was made of.
pub struct Staged {
    pub root: PathBuf,
    pub version: String,
    pub arch: String,
    /// Files installed (paths from `/`), conffiles included.
    pub files: Vec<PathBuf>,
}

pub fn run(options: &Options) -> Result<ExitCode> {
    let started = Instant::now();
    let staged = stage()?;
    let out = cargo::target_dir()?.join("debian");
    let deb = pack(&staged, &staged.version, &out)?;
    println!("built {} in {} s", deb.display(), started.elapsed().as_secs());
    if options.test {
        let started = Instant::now();
        test::run(&staged, &deb, &out)?;
        println!("package test (install, upgrade, remove, purge): {} s", started.elapsed().as_secs());
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `cmd`, failing with its stderr; returns its stdout.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Writes `bytes` to `root/path` with `mode`, creating folders (0755).
fn install(root: &Path, path: &str, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dest = root.join(path.trim_start_matches('/'));
    let dir = dest.parent().expect("a file has a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&dest, bytes).with_context(|| format!("writing {}", dest.display()))?;
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    use std::process::Stdio;
    // -n: no name or time stamp inside, so the same page gives the same bytes.
    let mut child = Command::new("gzip").args(["-9n", "-c"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    child.stdin.take().expect("piped").write_all(bytes)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("gzip failed");
    }
    Ok(out.stdout)
}

/// Builds guardian in release and lays out the package's files under
/// `target/debian/stage/`.
pub fn stage() -> Result<Staged> {
    let repo = cargo::workspace_root();
    let bin = cargo::build_guardian(Profile::Release)?;
    // "guardian 0.1.0 (git 0123456789ab)": the binary says what it is.
    let version = output(Command::new(&bin).arg("--version"))?
        .split_whitespace()
        .nth(1)
        .context("`guardian --version` printed no version")?
        .to_owned();
    let arch = output(Command::new("dpkg").arg("--print-architecture"))?.trim().to_owned();
    let root = cargo::target_dir()?.join("debian").join("stage");
    if root.exists() {
        std::fs::remove_dir_all(&root).with_context(|| format!("removing {}", root.display()))?;
    }
    let mut files = Vec::new();
    let mut put = |path: &str, bytes: &[u8], mode: u32| -> Result<()> {
        install(&root, path, bytes, mode)?;
        files.push(PathBuf::from(path));
        Ok(())
    };
    let read = |rel: &str| std::fs::read(repo.join(rel)).with_context(|| format!("reading {rel}"));

    std::fs::create_dir_all(&root)?;
    let stripped = root.with_file_name("guardian.stripped");
    output(Command::new("strip").arg("--strip-debug").arg("-o").arg(&stripped).arg(&bin))?;
    put("/usr/bin/guardian", &std::fs::read(&stripped)?, 0o755)?;
    put("/usr/lib/systemd/system/guardian.service", &read("packaging/guardian.service")?, 0o644)?;
    put("/etc/guardian/guardian.toml", &read("packaging/guardian.toml")?, 0o644)?;
    put("/etc/iproute2/rt_protos.d/guardian.conf", &read("packaging/rt_protos.d/guardian.conf")?, 0o644)?;

    let pages = root.with_file_name("man");
    for page in crate::man::write_pages(&bin, &pages)? {
        let name = page.file_name().expect("a page has a name").to_string_lossy().into_owned();
        put(&format!("/usr/share/man/man1/{name}.gz"), &gzip(&std::fs::read(&page)?)?, 0o644)?;
    }
    for (shell, path) in [
        ("bash", "/usr/share/bash-completion/completions/guardian"),
        ("zsh", "/usr/share/zsh/vendor-completions/_guardian"),
        ("fish", "/usr/share/fish/vendor_completions.d/guardian.fish"),
    ] {
        put(path, output(Command::new(&bin).args(["completions", shell]))?.as_bytes(), 0o644)?;
    }

    let doc = "/usr/share/doc/guardian";
    put(&format!("{doc}/copyright"), &read("packaging/debian/copyright")?, 0o644)?;
    put(&format!("{doc}/README.md"), &read("README.md")?, 0o644)?;
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo.join("docs"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for page in docs {
        let name = page.file_name().expect("a name").to_string_lossy().into_owned();
        put(&format!("{doc}/docs/{name}"), &std::fs::read(&page)?, 0o644)?;
    }
    put(&format!("{doc}/examples/guardian.rules.yml"), &read("packaging/prometheus/guardian.rules.yml")?, 0o644)?;
    put(&format!("{doc}/examples/grafana-dashboard.json"), &read("packaging/grafana/guardian.json")?, 0o644)?;

    for script in ["postinst", "prerm", "postrm"] {
        install(&root, &format!("DEBIAN/{script}"), &read(&format!("packaging/debian/{script}"))?, 0o755)?;
    }
    let conffiles: Vec<&str> = files.iter().filter_map(|p| p.to_str()).filter(|p| p.starts_with("/etc/")).collect();
    install(&root, "DEBIAN/conffiles", format!("{}\n", conffiles.join("\n")).as_bytes(), 0o644)?;
    Ok(Staged { root, version, arch, files })
}

/// The shared libraries the binary needs, as dpkg-shlibdeps names their
/// packages (`libc6 (>= 2.34), ...`).
fn shlib_depends(binary: &Path, dir: &Path) -> Result<String> {
    // dpkg-shlibdeps wants a debian/control naming the binary package.
    std::fs::create_dir_all(dir.join("debian"))?;
    std::fs::write(
        dir.join("debian/control"),
        format!("Source: {PACKAGE}\n\nPackage: {PACKAGE}\nArchitecture: any\n"),
    )?;
    let out = output(Command::new("dpkg-shlibdeps").args(["-O", "-e"]).arg(binary).current_dir(dir))
        .context("dpkg-shlibdeps (Debian's dpkg-dev) finds the libraries the binary needs")?;
    let depends = out
        .lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .context("dpkg-shlibdeps printed no shlibs:Depends")?;
    Ok(depends.trim().to_owned())
}

/// Writes DEBIAN/control and md5sums for `version` and packs the tree into
/// `out/guardian_<version>_<arch>.deb`.
pub fn pack(staged: &Staged, version: &str, out: &Path) -> Result<PathBuf> {
    let root = &staged.root;
    let depends = shlib_depends(&root.join("usr/bin/guardian"), &root.with_file_name("shlibdeps"))?;
    let mut md5sums = String::new();
    let mut size = 0u64;
    for file in &staged.files {
        let rel = file.strip_prefix("/").expect("absolute");
        size += std::fs::metadata(root.join(rel))?.len();
        if !file.starts_with("/etc") {
            let sum = output(Command::new("md5sum").arg(rel).current_dir(root))?;
            md5sums.push_str(&sum);
        }
    }
    install(root, "DEBIAN/md5sums", md5sums.as_bytes(), 0o644)?;
    let control = format!(
        "Package: {PACKAGE}\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: guardian developers <noreply@invalid>\n\
         Installed-Size: {kib}\n\
         Depends: {depends}, passwd\n\
         Section: net\n\
         Priority: optional\n\
         Description: keeps routes in the Linux kernel and puts them back\n \
         guardian installs a set of routes, notices at once when another process\n \
         deletes or changes one, puts it back, and logs which process did it\n \
         (eBPF). BFD-style liveness sessions can decide which routes are\n \
         installed. Prometheus metrics, alert rules, and a `guardian` command line.\n",
        arch = staged.arch,
        kib = size.div_ceil(1024),
    );
    install(root, "DEBIAN/control", control.as_bytes(), 0o644)?;
    std::fs::create_dir_all(out)?;
    let deb = out.join(format!("{PACKAGE}_{version}_{}.deb", staged.arch));
    output(Command::new("dpkg-deb").args(["--root-owner-group", "--build"]).arg(root).arg(&deb))?;
    Ok(deb)
}
