//! `command` steps: a local program run as an argv (never through a shell), in its own process
//! group, its stdout and stderr streamed line by line as they come, the whole group killed on
//! timeout or abort (SIGTERM, then SIGKILL after a grace period).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Stdout kept for the `stdout` output (and `parse = "json"`); lines beyond are still streamed.
const KEEP_STDOUT: usize = 1 << 20;
/// Between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(3);
/// After the command ends, how long its output is still read: a process it left running in
/// the background may hold the pipes open for ever, and the step must end all the same.
const DRAIN: Duration = Duration::from_secs(2);
/// Said on stderr when output is left unread.
pub const LEFT_OPEN: &str =
    "drbook: the command ended but a process it started still holds its output; no longer read";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub argv: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// None when killed by a signal.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub timed_out: bool,
    pub cancelled: bool,
    pub duration: Duration,
}

impl CommandOutcome {
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && !self.cancelled
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("the step has an empty argv")]
    Empty,
    #[error("cannot start `{program}`: {reason}")]
    Spawn { program: String, reason: String },
}

/// Runs `spec`, sending each output line to `lines` as it arrives.
pub async fn run(
    spec: &CommandSpec,
    lines: mpsc::UnboundedSender<(Stream, String)>,
    cancel: CancellationToken,
) -> Result<CommandOutcome, CommandError> {
    let (program, args) = spec.argv.split_first().ok_or(CommandError::Empty)?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| CommandError::Spawn {
        program: program.clone(),
        reason: match e.kind() {
            std::io::ErrorKind::NotFound => "not found on PATH (is it installed?)".into(),
            std::io::ErrorKind::PermissionDenied => "permission denied".into(),
            _ => e.to_string(),
        },
    })?;
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let drained = CancellationToken::new();
    let out = child.stdout.take().map(|s| {
        tokio::spawn(pump(
            s,
            Stream::Stdout,
            lines.clone(),
            true,
            drained.clone(),
        ))
    });
    let err = child.stderr.take().map(|s| {
        tokio::spawn(pump(
            s,
            Stream::Stderr,
            lines.clone(),
            false,
            drained.clone(),
        ))
    });

    let (status, timed_out, cancelled) = tokio::select! {
        s = child.wait() => (s.ok(), false, false),
        () = tokio::time::sleep(spec.timeout) => (stop(&mut child, group).await, true, false),
        () = cancel.cancelled() => (stop(&mut child, group).await, false, true),
    };
    let deadline = {
        let d = drained.clone();
        tokio::spawn(async move {
            tokio::time::sleep(DRAIN).await;
            d.cancel();
        })
    };
    let stdout = match out {
        Some(h) => h.await.unwrap_or_default(),
        None => String::new(),
    };
    if let Some(h) = err {
        let _ = h.await;
    }
    deadline.abort();
    if drained.is_cancelled() {
        let _ = lines.send((Stream::Stderr, LEFT_OPEN.to_string()));
    }
    Ok(CommandOutcome {
        exit_code: status.and_then(|s| s.code()),
        stdout,
        timed_out,
        cancelled,
        duration: started.elapsed(),
    })
}

/// SIGTERM to the whole group, SIGKILL after the grace period.
async fn stop(
    child: &mut tokio::process::Child,
    group: Option<Pid>,
) -> Option<std::process::ExitStatus> {
    if let Some(g) = group {
        let _ = killpg(g, Signal::SIGTERM);
    }
    match tokio::time::timeout(GRACE, child.wait()).await {
        Ok(s) => {
            // The leader is gone; make sure nothing it started lingers.
            if let Some(g) = group {
                let _ = killpg(g, Signal::SIGKILL);
            }
            s.ok()
        }
        Err(_) => {
            if let Some(g) = group {
                let _ = killpg(g, Signal::SIGKILL);
            }
            let _ = child.start_kill();
            child.wait().await.ok()
        }
    }
}

async fn pump(
    from: impl AsyncRead + Unpin,
    stream: Stream,
    to: mpsc::UnboundedSender<(Stream, String)>,
    keep: bool,
    drained: CancellationToken,
) -> String {
    let mut kept = String::new();
    let mut reader = BufReader::new(from);
    let mut buf = Vec::new();
    let mut tell = |buf: &[u8]| {
        let line = String::from_utf8_lossy(buf)
            .trim_end_matches(['\n', '\r'])
            .to_string();
        if keep && kept.len() < KEEP_STDOUT {
            kept.push_str(&line);
            kept.push('\n');
        }
        let _ = to.send((stream, line));
    };
    loop {
        buf.clear();
        tokio::select! {
            biased;
            () = drained.cancelled() => {
                // What was read of an unfinished line is still told.
                if !buf.is_empty() {
                    tell(&buf);
                }
                break;
            }
            r = reader.read_until(b'\n', &mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(_) => tell(&buf),
            },
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(argv: &[&str], timeout: Duration) -> CommandSpec {
        CommandSpec {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            cwd: None,
            env: vec![],
            timeout,
        }
    }

    async fn collect(
        s: CommandSpec,
        cancel: CancellationToken,
    ) -> (Result<CommandOutcome, CommandError>, Vec<(Stream, String)>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let r = run(&s, tx, cancel).await;
        let mut lines = Vec::new();
        while let Ok(l) = rx.try_recv() {
            lines.push(l);
        }
        (r, lines)
    }

    #[tokio::test]
    async fn a_process_left_holding_the_output_does_not_hold_the_step() {
        // `sleep` inherits stdout and keeps it open after the shell has ended.
        let s = spec(
            &["sh", "-c", "echo one; sleep 8 & echo two"],
            Duration::from_secs(60),
        );
        let started = Instant::now();
        let (r, lines) = collect(s, CancellationToken::new()).await;
        let r = r.expect("runs");
        assert!(r.succeeded());
        assert!(
            started.elapsed() < Duration::from_secs(7),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(r.stdout, "one\ntwo\n");
        assert_eq!(
            lines,
            vec![
                (Stream::Stdout, "one".into()),
                (Stream::Stdout, "two".into()),
                (Stream::Stderr, LEFT_OPEN.into()),
            ]
        );
    }

    #[tokio::test]
    async fn streams_both_streams_line_by_line_and_keeps_stdout() {
        let s = spec(
            &["sh", "-c", "echo one; echo two >&2; echo three"],
            Duration::from_secs(10),
        );
        let (r, lines) = collect(s, CancellationToken::new()).await;
        let r = r.expect("runs");
        assert!(r.succeeded());
        assert_eq!(r.stdout, "one\nthree\n");
        assert!(lines.contains(&(Stream::Stderr, "two".into())));
        assert!(lines.contains(&(Stream::Stdout, "three".into())));
    }

    #[tokio::test]
    async fn arguments_are_never_interpreted_by_a_shell() {
        let s = spec(
            &["echo", "$HOME; rm -rf /tmp/nothing"],
            Duration::from_secs(10),
        );
        let (r, _) = collect(s, CancellationToken::new()).await;
        assert_eq!(r.expect("runs").stdout, "$HOME; rm -rf /tmp/nothing\n");
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().expect("tmp");
        let marker = dir.path().join("grandchild-survived");
        // The grandchild would write the marker after 2s if it outlived the kill.
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let s = spec(&["sh", "-c", &script], Duration::from_millis(300));
        let t = Instant::now();
        let (r, _) = collect(s, CancellationToken::new()).await;
        let r = r.expect("runs");
        assert!(r.timed_out);
        assert!(!r.succeeded());
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(
            !marker.exists(),
            "a process of the group outlived the timeout"
        );
    }

    #[tokio::test]
    async fn abort_cancels_at_once() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            c.cancel();
        });
        let (r, _) = collect(spec(&["sleep", "30"], Duration::from_secs(60)), cancel).await;
        let r = r.expect("runs");
        assert!(r.cancelled);
        assert!(r.duration < Duration::from_secs(4));
    }

    #[tokio::test]
    async fn a_missing_program_and_a_failing_one_say_so() {
        let (r, _) = collect(
            spec(&["no-such-program-drbook"], Duration::from_secs(5)),
            CancellationToken::new(),
        )
        .await;
        assert_eq!(
            r,
            Err(CommandError::Spawn {
                program: "no-such-program-drbook".into(),
                reason: "not found on PATH (is it installed?)".into()
            })
        );
        let (r, _) = collect(
            spec(&["sh", "-c", "exit 3"], Duration::from_secs(5)),
            CancellationToken::new(),
        )
        .await;
        let r = r.expect("runs");
        assert_eq!(r.exit_code, Some(3));
        assert!(!r.succeeded());
        let (r, _) = collect(spec(&[], Duration::from_secs(5)), CancellationToken::new()).await;
        assert_eq!(r, Err(CommandError::Empty));
    }
}
