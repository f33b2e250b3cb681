//! `cargo xtask test [ARGS...]`: the README's test command. The tests drive the real binary
//! in tmux and run the shared log against Azurite (from npm), so on a machine that has only
//! the Rust toolchain this installs tmux and Node.js with the system's package manager, runs
//! `npm ci` for Azurite, then runs `cargo test --locked --workspace ARGS...` (every crate's
//! tests) and returns its exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask test [ARGS...]

  test [ARGS...]  install tmux and Node.js/npm when missing (apt-get), Azurite with `npm ci`
                  when node_modules lacks it, then run `cargo test --locked --workspace ARGS...`";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("test") => match test(args.collect()) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("xtask: {e}");
                ExitCode::FAILURE
            }
        },
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("xtask: unknown task `{other}`\n\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root: xtask/ sits directly under it.
fn root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

fn test(args: Vec<String>) -> Result<ExitCode, String> {
    let root = root();
    install_system_packages()?;
    install_azurite(&root)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let shown: String = args.iter().map(|a| format!(" {a}")).collect();
    eprintln!("xtask: running cargo test --locked --workspace{shown}");
    let status = Command::new(&cargo)
        .args(["test", "--locked", "--workspace"])
        .args(&args)
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    // A test binary killed by a signal has no code: that is a failure too.
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// Is `program` on PATH and does it run?
fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The Debian packages the tests need and this machine lacks.
fn missing_packages() -> Vec<&'static str> {
    let mut need = Vec::new();
    if !runs("tmux", "-V") {
        need.push("tmux");
    }
    if !runs("node", "--version") {
        need.push("nodejs");
    }
    if !runs("npm", "--version") {
        need.push("npm");
    }
    need
}

fn install_system_packages() -> Result<(), String> {
    let need = missing_packages();
    if need.is_empty() {
        return Ok(());
    }
    let list = need.join(" ");
    if !runs("apt-get", "--version") {
        return Err(format!(
            "the tests need {list}, and this machine has no apt-get to install them: \
             install {list} with your package manager, then run `cargo xtask test` again"
        ));
    }
    // Root installs directly; anyone else goes through sudo, which may ask for a password.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root && !runs("sudo", "--version") {
        return Err(format!(
            "the tests need {list}; installing it takes root and there is no sudo: \
             as root run `apt-get install -y {list}`, then `cargo xtask test` again"
        ));
    }
    for step in apt_commands(&need, root) {
        eprintln!("xtask: the tests need {list}; running: {}", step.join(" "));
        let status = Command::new(step[0])
            .args(&step[1..])
            .status()
            .map_err(|e| format!("cannot run {}: {e}", step[0]))?;
        if !status.success() {
            return Err(format!(
                "`{}` failed ({status}): install {list} yourself, then run `cargo xtask test` again",
                step.join(" ")
            ));
        }
    }
    let still = missing_packages();
    if !still.is_empty() {
        return Err(format!(
            "after apt-get install, {} still does not run",
            still.join(" ")
        ));
    }
    Ok(())
}

/// What installs `need`: apt-get, non-interactive, through sudo unless already root.
fn apt_commands<'a>(need: &[&'a str], root: bool) -> Vec<Vec<&'a str>> {
    let sudo: &[&str] = if root { &[] } else { &["sudo"] };
    let update = sudo.iter().copied().chain(["apt-get", "update", "-q"]);
    let install = sudo
        .iter()
        .copied()
        .chain([
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            "install",
            "-y",
            "-q",
        ])
        .chain(need.iter().copied());
    vec![update.collect(), install.collect()]
}

/// Azurite comes from npm, pinned by package-lock.json.
fn install_azurite(root: &Path) -> Result<(), String> {
    if root.join("node_modules/.bin/azurite-blob").exists() {
        return Ok(());
    }
    eprintln!(
        "xtask: installing Azurite for the shared-log tests; running: npm ci --no-audit --no-fund"
    );
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if !status.success() {
        return Err(format!("`npm ci` failed ({status})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::apt_commands;

    #[test]
    fn root_installs_directly_and_anyone_else_through_sudo_without_questions() {
        let as_root = apt_commands(&["tmux", "nodejs"], true);
        assert_eq!(as_root[0], ["apt-get", "update", "-q"]);
        assert_eq!(
            as_root[1],
            [
                "env",
                "DEBIAN_FRONTEND=noninteractive",
                "apt-get",
                "install",
                "-y",
                "-q",
                "tmux",
                "nodejs"
            ]
        );
        let as_user = apt_commands(&["npm"], false);
        assert!(as_user.iter().all(|c| c[0] == "sudo"), "{as_user:?}");
        assert_eq!(as_user[1].last(), Some(&"npm"));
    }
}
