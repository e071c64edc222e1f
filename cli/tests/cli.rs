//! The `assent` command as scripts use it: real processes, a real vault file, a temporary home.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn vault(&self) -> PathBuf {
        self.dir.path().join("vault.json")
    }

    /// `assent` with this home's vault, runtime dir and passphrase, no terminal.
    fn cmd(&self) -> Command {
        common::assent(self.dir.path())
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "assent {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        common::one_line_error(args, self.run(args))
    }

    fn list(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["list", "--json", "--at", "59"])).unwrap()
    }
}

const RFC_SHA1: &str =
    "otpauth://totp/RFC:sha1?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8&issuer=RFC";

#[test]
fn code_prints_only_the_code() {
    let home = Home::new();
    assert_eq!(home.ok(&["code", RFC_SHA1, "--at", "59"]), "94287082\n");
    assert_eq!(
        home.ok(&["code", RFC_SHA1, "--at", "1111111109"]),
        "07081804\n"
    );
    let hotp = "otpauth://hotp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=9";
    assert_eq!(home.ok(&["code", hotp]), "520489\n");
    let err = home.fails(&["code", "otpauth://totp/x?secret=ABC"]);
    assert!(err.starts_with("assent: bad otpauth URI: secret:"), "{err}");
    let err = home.fails(&["code", "https://example.com"]);
    assert!(err.contains("not an otpauth URI"), "{err}");
    assert!(!home.vault().exists(), "code must not touch a vault");
}

#[test]
fn add_list_copy_rename_move_remove() {
    let home = Home::new();
    let err = home.fails(&["list"]);
    assert!(err.contains("no vault at"), "{err}");
    home.ok(&["add", RFC_SHA1]);
    home.ok(&[
        "add",
        "otpauth://hotp/Bank:carol?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=0&issuer=Bank",
    ]);
    home.ok(&["add", "otpauth://steam/Steam:gaben?secret=JBSWY3DPEHPK3PXP"]);
    let dup = home.run(&["add", RFC_SHA1]);
    assert!(dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already"));

    let list = home.list();
    assert_eq!(list.len(), 3);
    let first = &list[0];
    for field in [
        "issuer",
        "name",
        "type",
        "algorithm",
        "digits",
        "period",
        "counter",
        "code",
        "remaining_seconds",
    ] {
        assert!(first.get(field).is_some(), "missing {field}");
    }
    assert_eq!(first["code"], "94287082");
    assert_eq!(first["remaining_seconds"], 1);
    assert_eq!(first["type"], "totp");
    assert_eq!(list[1]["type"], "hotp");
    assert_eq!(list[1]["remaining_seconds"], serde_json::Value::Null);
    assert_eq!(list[2]["type"], "steam");
    assert_eq!(list[2]["code"].as_str().unwrap().len(), 5);

    // HOTP: copying uses the code and advances the counter.
    assert_eq!(home.ok(&["copy", "bank", "--print"]), "755224\n");
    assert_eq!(home.ok(&["copy", "bank", "--print"]), "287082\n");
    assert_eq!(home.list()[1]["counter"], 2);

    home.ok(&["rename", "gaben", "--issuer", "Valve", "--name", "gabe"]);
    home.ok(&["move", "valve", "1"]);
    let list = home.list();
    assert_eq!(
        (list[0]["issuer"].as_str(), list[0]["name"].as_str()),
        (Some("Valve"), Some("gabe"))
    );
    let err = home.fails(&["remove", "valve"]);
    assert!(err.contains("--yes"), "{err}");
    home.ok(&["remove", "valve", "--yes"]);
    assert_eq!(home.list().len(), 2);
    let err = home.fails(&["copy", "nothing-like-this", "--print"]);
    assert!(err.contains("no account matches"), "{err}");
    home.ok(&[
        "add",
        "otpauth://totp/RFC:other?secret=JBSWY3DPEHPK3PXP&issuer=RFC",
    ]);
    let err = home.fails(&["copy", "rfc", "--print"]);
    assert!(err.contains("matches 2 accounts"), "{err}");
    // An id always designates one account.
    let id = home.list()[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        home.ok(&["copy", &id, "--print", "--at", "59"]),
        "94287082\n"
    );
}

#[test]
fn wrong_passphrase_is_one_clear_line_and_changes_nothing() {
    let home = Home::new();
    home.ok(&["add", RFC_SHA1]);
    let before = std::fs::read(home.vault()).unwrap();
    let out = home
        .cmd()
        .env("ASSENT_PASSPHRASE", "wrong")
        .args(["add", "otpauth://totp/New:x?secret=JBSWY3DPEHPK3PXP"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("wrong passphrase"), "{err}");
    assert_eq!(std::fs::read(home.vault()).unwrap(), before);
    std::fs::write(home.vault(), b"{\"format\":\"assent-vault\",\"version\":1").unwrap();
    let err = home.fails(&["list"]);
    assert!(err.contains("damaged"), "{err}");
}

#[test]
fn a_session_skips_the_passphrase_until_lock() {
    let home = Home::new();
    home.ok(&["add", RFC_SHA1]);
    let token = home.ok(&["unlock", "--raw"]).trim().to_owned();
    assert!(token.len() >= 40);
    let with_session = |args: &[&str]| {
        home.cmd()
            .env_remove("ASSENT_PASSPHRASE")
            .env("ASSENT_SESSION", &token)
            .args(args)
            .output()
            .unwrap()
    };
    let out = with_session(&["list", "--json", "--at", "59"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("94287082"));
    // Without session or passphrase, and no terminal: a clear refusal.
    let out = home
        .cmd()
        .env_remove("ASSENT_PASSPHRASE")
        .args(["list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("set ASSENT_PASSPHRASE"));
    home.ok(&["lock"]);
    let out = with_session(&["list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("assent unlock"));
    // A forged token is refused the same way.
    home.ok(&["unlock", "--raw"]);
    let out = home
        .cmd()
        .env_remove("ASSENT_PASSPHRASE")
        .env(
            "ASSENT_SESSION",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .args(["list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn exports_read_back_with_import() {
    let home = Home::new();
    home.ok(&["add", RFC_SHA1]);
    home.ok(&[
        "add",
        "otpauth://hotp/Bank:carol?secret=JBSWY3DPEHPK3PXP&counter=5&digits=7",
    ]);
    let uris = home.ok(&["export", "--format", "uris"]);
    assert_eq!(uris.lines().count(), 2);
    let backup = home.dir.path().join("backup.json");
    let out = home
        .cmd()
        .env("ASSENT_BACKUP_PASSPHRASE", "backup pass")
        .args(["export", "--format", "backup", "-o"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&backup).unwrap();
    assert!(text.contains("assent-backup") && !text.contains("GEZDGNBV"));

    let other = Home::new();
    let out = other
        .cmd()
        .env("ASSENT_IMPORT_PASSWORD", "backup pass")
        .arg("import")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let without_ids = |list: Vec<serde_json::Value>| {
        list.into_iter()
            .map(|mut a| {
                a.as_object_mut().unwrap().remove("id");
                a
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(without_ids(other.list()), without_ids(home.list()));
    let wrong = other
        .cmd()
        .env("ASSENT_IMPORT_PASSWORD", "nope")
        .arg("import")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!wrong.status.success());

    let list_file = other.dir.path().join("uris.txt");
    std::fs::write(&list_file, &uris).unwrap();
    let out = other.run(&["import", list_file.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 added, 2 already present"));
}

fn qr_png(text: &str, path: &Path) {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let image = code
        .render::<image::Luma<u8>>()
        .min_dimensions(300, 300)
        .build();
    image.save(path).unwrap();
}

#[test]
fn add_from_a_qr_image() {
    let home = Home::new();
    let png = home.dir.path().join("qr.png");
    qr_png(RFC_SHA1, &png);
    home.ok(&["add", "--qr", png.to_str().unwrap()]);
    assert_eq!(home.list()[0]["code"], "94287082");
    std::fs::write(&png, b"not an image").unwrap();
    home.fails(&["add", "--qr", png.to_str().unwrap()]);
}

/// A real X server (Xvfb) and a real clipboard reader (xclip): the code reaches the clipboard
/// and is cleared after the delay. `.ci/run` installs both.
#[test]
fn copy_puts_the_code_on_the_clipboard_then_clears_it() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut xvfb = Command::new("Xvfb")
        .args(["-displayfd", "1", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb must be installed (apt-get install xvfb); .ci/run does it");
    let mut line = String::new();
    BufReader::new(xvfb.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let display = format!(":{}", line.trim());
    let read_clipboard = || {
        let out = Command::new("xclip")
            .args(["-o", "-selection", "clipboard"])
            .env("DISPLAY", &display)
            .output()
            .expect("xclip must be installed (apt-get install xclip); .ci/run does it");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let home = Home::new();
    home.ok(&["add", RFC_SHA1]);
    let out = home
        .cmd()
        .env("DISPLAY", &display)
        .env("ASSENT_CLIPBOARD_SECONDS", "2")
        .args(["copy", "rfc", "--at", "59"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("clears in 2 s"), "{stderr}");
    assert_eq!(read_clipboard(), "94287082");
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert_eq!(read_clipboard(), "", "the clipboard was not cleared");

    // Without a display: a clear refusal that points at --print.
    let err = home.fails(&["copy", "rfc"]);
    assert!(err.contains("--print"), "{err}");
    let _ = xvfb.kill();
    let _ = xvfb.wait();
}

/// The interactive list on a real terminal (tmux): it shows every account with its code, typing
/// filters, Enter "copies" (here there is no display, so the code is shown instead), Esc quits.
/// `.ci/run` installs tmux.
#[test]
fn interactive_list_filters_and_copies_on_a_terminal() {
    let home = Home::new();
    home.ok(&["add", RFC_SHA1]);
    home.ok(&[
        "add",
        "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub",
    ]);
    let socket = home.dir.path().join("tmux.sock");
    let tmux = |args: &[&str]| {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(args)
            .output()
            .expect("tmux must be installed (apt-get install tmux); .ci/run does it");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let command = format!(
        "env -u DISPLAY -u WAYLAND_DISPLAY ASSENT_VAULT={} ASSENT_PASSPHRASE='correct horse' {}",
        home.vault().display(),
        env!("CARGO_BIN_EXE_assent")
    );
    tmux(&["new-session", "-d", "-x", "100", "-y", "20", &command]);
    let screen_with = |needle: &str| {
        for _ in 0..50 {
            let screen = tmux(&["capture-pane", "-p"]);
            if screen.contains(needle) {
                return screen;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "{needle:?} never appeared:\n{}",
            tmux(&["capture-pane", "-p"])
        );
    };
    let screen = screen_with("2 accounts");
    assert!(
        screen.contains("RFC (sha1)") && screen.contains("GitHub (alice)"),
        "{screen}"
    );
    tmux(&["send-keys", "git"]);
    let screen = screen_with("filter: git");
    assert!(
        !screen.contains("RFC (sha1)"),
        "the filter did not hide RFC:\n{screen}"
    );
    tmux(&["send-keys", "Enter"]);
    let screen = screen_with("the code of GitHub (alice) is");
    let shown: String = screen
        .split("the code of GitHub (alice) is ")
        .nth(1)
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let listed = home.ok(&["list", "--json"]);
    let at_hand = |list: &str| -> String {
        let list: Vec<serde_json::Value> = serde_json::from_str(list).unwrap();
        list[1]["code"].as_str().unwrap().to_owned()
    };
    // The code may have rolled over between the two reads; then the previous period's matches.
    let now_code = at_hand(&listed);
    if shown != now_code {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let earlier = home.ok(&["list", "--json", "--at", &(now - 30).to_string()]);
        assert_eq!(shown, at_hand(&earlier));
    }
    tmux(&["send-keys", "Escape"]);
    screen_with("filter:\n");
    tmux(&["send-keys", "Escape"]);
    for _ in 0..50 {
        if tmux(&["list-sessions"]).is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    tmux(&["kill-server"]);
    panic!("Esc on an empty filter did not quit");
}

/// On a desktop with an OS keyring (here a real Secret Service: gnome-keyring in a private
/// D-Bus session), a new vault keeps a random key there and opens without a passphrase. The
/// keyring's own password is not ours: a script unlocks it as a login session would.
/// `.ci/run` installs dbus and gnome-keyring.
#[test]
fn a_vault_can_keep_its_key_in_the_os_keyring() {
    let home = Home::new();
    let assent = env!("CARGO_BIN_EXE_assent");
    let script = format!(
        r#"set -e
echo -n login-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
{assent} init --keyring
{assent} add '{RFC_SHA1}'
{assent} list --json --at 59
grep -q '"kdf": null' "$ASSENT_VAULT"
! grep -q JBSW "$ASSENT_VAULT"
ASSENT_NEW_PASSPHRASE=new {assent} passwd
ASSENT_PASSPHRASE=new {assent} list --json --at 59 | grep -q 94287082
! {assent} list 2>/dev/null
echo OK"#
    );
    let out = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.dir.path())
        .env("XDG_RUNTIME_DIR", home.dir.path().join("run"))
        .env("ASSENT_VAULT", home.vault())
        .output()
        .expect("dbus-run-session must be installed (apt-get install dbus gnome-keyring); .ci/run does it");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "{stdout}\n{stderr}"
    );
    assert!(stdout.contains("\"code\": \"94287082\""), "{stdout}");
    assert!(stderr.contains("its key is in your OS keyring"), "{stderr}");
}

/// A Google Authenticator export split over two QR codes: importing one picture names the
/// missing one; importing both brings every account.
#[test]
fn import_a_split_google_export_from_its_qr_pictures() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../authenticator-core/tests/fixtures/import/google_migration.txt");
    let text = std::fs::read_to_string(fixtures).unwrap();
    let parts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("otpauth-migration:"))
        .collect();
    assert_eq!(parts.len(), 2);
    let home = Home::new();
    let pictures: Vec<PathBuf> = parts
        .iter()
        .enumerate()
        .map(|(i, uri)| {
            let png = home.dir.path().join(format!("part{i}.png"));
            qr_png(uri, &png);
            png
        })
        .collect();
    let first = home.run(&["import", pictures[0].to_str().unwrap()]);
    assert!(first.status.success());
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("2 of 2") && stderr.contains("missing"),
        "{stderr}"
    );
    let after_first = home.list().len();
    let both = home.run(&[
        "import",
        pictures[0].to_str().unwrap(),
        pictures[1].to_str().unwrap(),
    ]);
    assert!(
        both.status.success(),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
    assert!(!String::from_utf8_lossy(&both.stderr).contains("missing"));
    assert!(home.list().len() > after_first);
}
