//! Copying a code: a small background copy of `assent` owns the clipboard (on X11 the owner
//! must stay alive to serve pastes), then clears it after a delay if it still holds our code.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::failure::Failure;

/// How long a copied code stays on the clipboard.
pub const CLEAR_AFTER: Duration = Duration::from_secs(30);
/// Overrides [`CLEAR_AFTER`] in seconds (for tests and impatient users).
pub const CLEAR_ENV: &str = "ASSENT_CLIPBOARD_SECONDS";

/// The delay before the clipboard is cleared.
pub fn clear_after() -> Duration {
    std::env::var(CLEAR_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(CLEAR_AFTER)
}

/// Puts `code` on the clipboard and returns once it is there; a background process clears it
/// after `after`. The code goes to the helper through a pipe, never its command line.
pub fn copy(code: &str, after: Duration) -> Result<(), Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(format!("cannot start the clipboard helper: {e}")))?;
    let mut command = Command::new(exe);
    command
        .arg("__clipboard-hold")
        .arg(after.as_secs().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|e| Failure::new(format!("cannot start the clipboard helper: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(code.as_bytes())
            .map_err(|e| Failure::new(format!("clipboard helper: {e}")))?;
    }
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut line);
    }
    match line.trim() {
        "ok" => Ok(()),
        other => {
            let _ = child.wait();
            let reason = other.strip_prefix("error: ").unwrap_or("no clipboard");
            Err(Failure::new(format!(
                "cannot use the clipboard ({reason}); use --print to print the code"
            )))
        }
    }
}

/// The helper's side: read the code from standard input, own the clipboard, report `ok` (or
/// `error: ...`) on standard output, wait, then clear the clipboard if it still holds the code.
pub fn hold(seconds: u64) -> Result<(), Failure> {
    let mut code = Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut code)
        .map_err(|e| Failure::new(e.to_string()))?;
    let mut out = std::io::stdout();
    let mut clipboard = match arboard::Clipboard::new() {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            return Ok(());
        }
    };
    if let Err(e) = clipboard.set_text(code.as_str()) {
        let _ = writeln!(out, "error: {e}");
        return Ok(());
    }
    let _ = writeln!(out, "ok");
    let _ = out.flush();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        // Someone copied something else: it is theirs now, leave it.
        if clipboard.get_text().ok().as_deref() != Some(code.as_str()) {
            return Ok(());
        }
    }
    let _ = clipboard.clear();
    // Give clipboard managers a moment to see the clear before the owner disappears.
    std::thread::sleep(Duration::from_millis(200));
    Ok(())
}
