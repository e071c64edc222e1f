//! The PAM entry points (through `pamsm`): `pam_sm_authenticate` asks the portal; `setcred`
//! has nothing to set. A panic is caught here and refuses the login, so it never unwinds into
//! the calling process (sshd, sudo).
//!
//! The only `unsafe` of the crate is here, in `groups_of`: the C user database (getpwnam,
//! getgrouplist, getgrgid), with what each call relies on beside it.
#![allow(
    unsafe_code,
    reason = "the C user database; each block says what it relies on"
)]

use std::ffi::{CStr, CString};
use std::panic::{AssertUnwindSafe, catch_unwind};

use pamsm::{LogLvl, Pam, PamError, PamFlags, PamLibExt, PamMsgStyle, PamServiceModule};
use zeroize::Zeroizing;

use crate::{Config, Decision, Login, Talk, authenticate, http};

/// The module.
pub struct PamAssent;

/// The PAM conversation of a handle.
struct Conversation<'a> {
    pam: &'a Pam,
    silent: bool,
}

impl Talk for Conversation<'_> {
    fn info(&mut self, text: &str) {
        if !self.silent {
            let _ = self.pam.conv(Some(text), PamMsgStyle::TEXT_INFO);
        }
    }

    fn error(&mut self, text: &str) {
        if !self.silent {
            let _ = self.pam.conv(Some(text), PamMsgStyle::ERROR_MSG);
        }
    }

    fn prompt(&mut self, text: &str) -> Option<Zeroizing<String>> {
        match self.pam.conv(Some(text), PamMsgStyle::PROMPT_ECHO_ON) {
            Ok(Some(answer)) => Some(Zeroizing::new(answer.to_string_lossy().into_owned())),
            Ok(None) => Some(Zeroizing::new(String::new())),
            // Ctrl-C at the prompt, or a conversation that cannot prompt.
            Err(_) => None,
        }
    }
}

fn log(pam: &Pam, level: LogLvl, message: &str) {
    let _ = pam.syslog(level, &format!("pam_assent: {message}"));
}

fn text(item: pamsm::PamResult<Option<&CStr>>) -> Option<String> {
    item.ok()
        .flatten()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
}

fn decide(pam: &Pam, flags: PamFlags, args: &[String]) -> PamError {
    let silent = flags.contains(PamFlags::SILENT);
    let mut talk = Conversation { pam, silent };
    let Some(user) = text(pam.get_user(None)) else {
        log(pam, LogLvl::ERR, "no user name");
        return PamError::USER_UNKNOWN;
    };
    let path = Config::path_from_args(args);
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            log(pam, LogLvl::ERR, &e.to_string());
            talk.error("Sign-in approval is misconfigured on this machine: refused.");
            return PamError::AUTH_ERR;
        }
    };
    if !config.applies_to(&user) {
        return PamError::IGNORE;
    }
    let key = match config.key() {
        Ok(k) => k,
        Err(e) => {
            log(pam, LogLvl::ERR, &e.to_string());
            talk.error("Sign-in approval is misconfigured on this machine: refused.");
            return PamError::AUTH_ERR;
        }
    };
    let signing = match config.request_key() {
        Ok(k) => k,
        Err(e) => {
            log(pam, LogLvl::ERR, &e.to_string());
            talk.error("Sign-in approval is misconfigured on this machine: refused.");
            return PamError::AUTH_ERR;
        }
    };
    let portal = match http::Portal::new(
        &config.portal_url,
        key,
        signing.as_ref().map(|k| k.as_slice()),
    ) {
        Ok(p) => p,
        Err(e) => {
            log(pam, LogLvl::ERR, &format!("{e:?}"));
            return PamError::AUTH_ERR;
        }
    };
    let service = text(pam.get_service()).unwrap_or_else(|| "login".into());
    let rhost = text(pam.get_rhost());
    let hostname = hostname();
    let login = Login {
        user: &user,
        service: &service,
        rhost: rhost.as_deref(),
        hostname: &hostname,
    };
    match authenticate(&config, &login, &mut talk, &portal) {
        Decision::Allow(why) => {
            log(pam, LogLvl::NOTICE, &format!("{user}: allowed ({why})"));
            PamError::SUCCESS
        }
        Decision::Deny(message) => {
            log(pam, LogLvl::NOTICE, &format!("{user}: refused ({message})"));
            talk.error(&message);
            PamError::AUTH_ERR
        }
        Decision::Ignore => PamError::IGNORE,
    }
}

impl PamServiceModule for PamAssent {
    fn authenticate(pam: Pam, flags: PamFlags, args: Vec<String>) -> PamError {
        match catch_unwind(AssertUnwindSafe(|| decide(&pam, flags, &args))) {
            Ok(result) => result,
            Err(_) => {
                log(&pam, LogLvl::CRIT, "internal error: login refused");
                PamError::AUTH_ERR
            }
        }
    }

    fn setcred(_: Pam, _: PamFlags, _: Vec<String>) -> PamError {
        PamError::SUCCESS
    }
}

pamsm::pam_module!(PamAssent);

/// This machine's name.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this machine".into())
}

/// The names of the groups `user` is in (primary and supplementary), from the system's
/// user database.
pub fn groups_of(user: &str) -> Vec<String> {
    let Ok(name) = CString::new(user) else {
        return Vec::new();
    };
    // SAFETY: getpwnam returns NULL or a pointer into static storage valid until the next call
    // of the getpw* family; the gid is copied out at once.
    let gid = unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() {
            return Vec::new();
        }
        (*pw).pw_gid
    };
    let mut count: libc::c_int = 64;
    let mut gids: Vec<libc::gid_t> = vec![0; 64];
    // SAFETY: `gids` has room for `count` entries; getgrouplist writes at most that many and
    // sets `count` to how many the user has.
    let found = unsafe { libc::getgrouplist(name.as_ptr(), gid, gids.as_mut_ptr(), &mut count) };
    if found < 0 {
        gids = vec![0; usize::try_from(count).unwrap_or(0)];
        // SAFETY: as above, with room for the count the first call reported.
        unsafe { libc::getgrouplist(name.as_ptr(), gid, gids.as_mut_ptr(), &mut count) };
    }
    gids.truncate(usize::try_from(count).unwrap_or(0));
    gids.into_iter()
        .filter_map(|g| {
            // SAFETY: getgrgid returns NULL or a pointer into static storage; the name is
            // copied out at once.
            unsafe {
                let gr = libc::getgrgid(g);
                (!gr.is_null())
                    .then(|| CStr::from_ptr((*gr).gr_name).to_string_lossy().into_owned())
            }
        })
        .collect()
}
