//! `assent watch`: waits for requests and asks approve or deny on the terminal.
//!
//! Requests come from two places: the relay's direct stream (one thread per enrollment that has
//! a relay, reconnecting with backoff) and polls of the portal (at start, every 5 s while no
//! stream is up, every 30 s anyway for pushes missed). Both may deliver the same request; it
//! is shown once. Answers are read from standard input line by line, so the command works on a
//! terminal and with piped input alike. What is asked, and what a line means, is
//! [`crate::prompt`]; this module does the waiting, the printing and the sending.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use assent_protocol::{PushConfig, Transport};
use authenticator_core::vault::Vault;

use crate::clock::Clock;
use crate::direct::{self, StreamEvent};
use crate::exchanges;
use crate::failure::{Context, Failure};
use crate::portal_client::PortalClient;
use crate::prompt::{Outcome, Output, Prompts, Source};
use crate::relays::Relays;
use crate::store;

/// Poll interval while an enrollment has no stream up.
const POLL_WITHOUT_STREAM: Duration = Duration::from_secs(5);
/// Poll interval with the stream up, for pushes the relay could not deliver.
const POLL_WITH_STREAM: Duration = Duration::from_secs(30);
/// How long the start waits for the streams to open before saying what it watches.
const STREAM_START: Duration = Duration::from_secs(5);
/// How often the loop looks at Ctrl-C and the clock.
const TICK: Duration = Duration::from_millis(200);

/// What the loop waits for.
enum Event {
    /// Something happened on the stream of enrollment `usize`.
    Stream(usize, StreamEvent),
    /// A line of standard input.
    Line(String),
    /// Standard input ended.
    StdinClosed,
}

/// One watched enrollment.
struct Watched {
    device_id: String,
    portal: String,
    relay: Option<String>,
    /// The device's push address (none for a device that only polls).
    push: Option<PushConfig>,
    stream_up: bool,
    /// Why the stream is down, once it went down (said once per reason).
    stream_error: Option<String>,
    next_poll: Instant,
    /// The last poll's failure (said once per failure).
    last_error: Option<String>,
}

/// What became of a request that was shown.
enum Handled {
    /// The portal took the answer.
    Answered,
    /// The answer could not be built, or the portal refused it.
    Refused(Failure),
    /// Its time ran out first (its short id).
    Expired(String),
}

struct Watch<'a> {
    vault: Vault,
    client: PortalClient,
    clock: &'a dyn Clock,
    accounts: Vec<Watched>,
    prompts: Prompts,
    stdin_closed: bool,
    once: bool,
}

/// `assent watch`: runs until Ctrl-C (or, with `once`, until one request was handled).
pub fn watch(path: &Path, once: bool, clock: &dyn Clock) -> Result<(), Failure> {
    let _only_watcher = only_watcher(path)?;
    let vault = store::open(path)?;
    let relays = Relays::load(path)?;
    let client = PortalClient::new()?;
    let accounts: Vec<Watched> = exchanges::active(&vault)
        .into_iter()
        .map(|p| Watched {
            device_id: p.device_id.clone(),
            portal: p.portal_url.clone(),
            relay: relays
                .get(&p.device_id)
                .filter(|_| {
                    p.device
                        .push
                        .as_ref()
                        .is_some_and(|push| push.transport == Transport::Direct)
                })
                .map(str::to_owned),
            push: p.device.push.clone(),
            stream_up: false,
            stream_error: None,
            next_poll: Instant::now(),
            last_error: None,
        })
        .collect();
    if accounts.is_empty() {
        return Err(Failure::new(
            "no push enrollment in this vault: enroll with `assent enroll <uri>` or `--qr IMAGE`",
        ));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| Failure::new(format!("cannot handle Ctrl-C: {e}")))?;
    }
    let (tx, rx) = mpsc::channel();
    for (index, account) in accounts.iter().enumerate() {
        if let (Some(relay), Some(push)) = (account.relay.clone(), &account.push) {
            let token = push.token.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                direct::run_stream(&relay, &token, &|event| {
                    tx.send(Event::Stream(index, event)).is_ok()
                });
            });
        }
    }
    spawn_stdin_reader(tx);
    let mut watch = Watch {
        vault,
        client,
        clock,
        accounts,
        prompts: Prompts::new(std::io::stdin().is_terminal()),
        stdin_closed: false,
        once,
    };
    watch.start(&rx);
    watch.run(&rx, &stop)
}

/// Makes sure no other `assent watch` runs on this vault: two would take the relay stream from
/// each other (the relay keeps one stream per token) and ask every question twice. The lock
/// is held until the returned file is dropped.
fn only_watcher(path: &Path) -> Result<std::fs::File, Failure> {
    let mut name = path.as_os_str().to_owned();
    name.push(".watch.lock");
    let lock_path = PathBuf::from(name);
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .context(|| format!("opening {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Failure::new(
            "another `assent watch` is already watching this vault",
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(Failure::new(format!(
            "locking {}: {e}",
            lock_path.display()
        ))),
    }
}

fn spawn_stdin_reader(tx: Sender<Event>) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(Event::Line(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(Event::StdinClosed);
    });
}

impl Watch<'_> {
    /// Waits (briefly) for the streams to open, then says what is watched.
    fn start(&mut self, rx: &Receiver<Event>) {
        let deadline = Instant::now() + STREAM_START;
        let mut waiting: Vec<usize> = (0..self.accounts.len())
            .filter(|&i| self.accounts[i].relay.is_some())
            .collect();
        while !waiting.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Event::Stream(i, event)) => {
                    if matches!(event, StreamEvent::Up | StreamEvent::Down(_)) {
                        waiting.retain(|&w| w != i);
                    }
                    self.on_stream(i, event);
                }
                Ok(other) => self.on_event(other),
                Err(_) => break,
            }
        }
        let parts: Vec<String> = self
            .accounts
            .iter()
            .map(|a| match (&a.relay, a.stream_up) {
                (Some(relay), true) => format!("stream {relay}"),
                _ => format!("polling {}", a.portal),
            })
            .collect();
        say(&format!(
            "watching {} account(s): {}",
            self.accounts.len(),
            parts.join(", ")
        ));
    }

    fn run(&mut self, rx: &Receiver<Event>, stop: &AtomicBool) -> Result<(), Failure> {
        loop {
            if stop.load(Ordering::Relaxed) {
                say("\nStopped watching.");
                return Ok(());
            }
            self.poll_due();
            if let Some(handled) = self.step() {
                match handled {
                    Handled::Answered if self.once => return Ok(()),
                    Handled::Refused(why) if self.once => return Err(why),
                    Handled::Refused(why) => eprintln!("assent: {why}"),
                    Handled::Expired(id) if self.once => {
                        return Err(Failure::new(format!("request {id} expired")));
                    }
                    Handled::Answered | Handled::Expired(_) => {}
                }
                continue;
            }
            if self.prompts.needs_a_line() && self.stdin_closed {
                return Err(Failure::new(
                    "standard input closed before the request was answered",
                ));
            }
            match rx.recv_timeout(TICK) {
                Ok(event) => self.on_event(event),
                Err(RecvTimeoutError::Timeout) => {}
                // No stream and standard input closed: the polls go on.
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(TICK),
            }
        }
    }

    /// Advances the prompt by one step (see [`Prompts::step`]) and prints what it says; sends
    /// the answer decided. `Some` when a request was handled, with its outcome.
    fn step(&mut self) -> Option<Handled> {
        let step = self.prompts.step(self.clock.now());
        for output in &step.output {
            match output {
                Output::Say(line) => say(line),
                Output::Ask(question) => ask(question),
            }
        }
        Some(match step.outcome? {
            Outcome::Decided { found, response } => match exchanges::answer(
                &mut self.vault,
                &found.challenge,
                &response,
                &self.client,
                self.clock,
            ) {
                Ok(status) => {
                    say(&status);
                    Handled::Answered
                }
                Err(why) => Handled::Refused(why),
            },
            Outcome::Refused(why) => Handled::Refused(why),
            Outcome::Expired(id) => Handled::Expired(id),
        })
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Stream(i, event) => self.on_stream(i, event),
            Event::Line(line) => self.prompts.line(line),
            Event::StdinClosed => self.stdin_closed = true,
        }
    }

    fn on_stream(&mut self, i: usize, event: StreamEvent) {
        let Some(account) = self.accounts.get_mut(i) else {
            return;
        };
        match event {
            StreamEvent::Up => {
                if account.stream_error.take().is_some() {
                    eprintln!(
                        "The stream from {} is back.",
                        account.relay.as_deref().unwrap_or_default()
                    );
                }
                account.stream_up = true;
                // Pushes missed while the stream was down are fetched now.
                account.next_poll = Instant::now();
            }
            StreamEvent::Down(why) => {
                let relay = account.relay.clone().unwrap_or_default();
                if account.stream_up || account.stream_error.as_deref() != Some(why.as_str()) {
                    eprintln!(
                        "assent: the stream from {relay} is down ({why}); polling every {} s until it is back",
                        POLL_WITHOUT_STREAM.as_secs()
                    );
                }
                account.stream_error = Some(why);
                account.stream_up = false;
                account.next_poll = account.next_poll.min(Instant::now() + POLL_WITHOUT_STREAM);
            }
            StreamEvent::Pushed(jws) => self.receive(&jws, Source::Stream),
        }
    }

    /// Polls every enrollment whose time has come.
    fn poll_due(&mut self) {
        let now = Instant::now();
        for i in 0..self.accounts.len() {
            let account = &self.accounts[i];
            if account.next_poll > now {
                continue;
            }
            let result = exchanges::active(&self.vault)
                .into_iter()
                .find(|p| p.device_id == account.device_id)
                .ok_or_else(|| Failure::new("the enrollment was removed from the vault"))
                .and_then(|p| exchanges::poll(&self.vault, p, &self.client, self.clock.now()));
            let account = &mut self.accounts[i];
            account.next_poll = Instant::now()
                + if account.stream_up {
                    POLL_WITH_STREAM
                } else {
                    POLL_WITHOUT_STREAM
                };
            match result {
                Ok(challenges) => {
                    account.last_error = None;
                    for jws in challenges {
                        self.receive(&jws, Source::Poll);
                    }
                }
                Err(why) => {
                    let why = why.to_string();
                    if account.last_error.as_deref() != Some(why.as_str()) {
                        eprintln!("assent: {why}");
                    }
                    account.last_error = Some(why);
                }
            }
        }
    }

    /// A challenge from either source: opened, and queued unless it was open already.
    fn receive(&mut self, jws: &str, source: Source) {
        match exchanges::receive(&mut self.vault, jws, self.clock.now()) {
            Ok(Some(found)) => self.prompts.offer(found, source),
            Ok(None) => {}
            Err(why) => eprintln!("assent: {why}"),
        }
    }
}

/// A line on standard output, flushed at once so scripts and tests see it.
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// A question, without a newline, flushed.
fn ask(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{text}");
    let _ = out.flush();
}
