//! `assent` alone on a terminal: every account with its code and a live countdown. Typing
//! filters, arrows select, Enter copies, Esc clears the filter or quits.

use std::io::{Write, stdout};
use std::time::Duration;

use authenticator_core::OtpKind;
use authenticator_core::vault::Vault;
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::style::{Attribute, Print, SetAttribute};
use crossterm::terminal::{self, Clear, ClearType};
use crossterm::{cursor, execute, queue};

use crate::clock::Clock;
use crate::failure::Failure;
use crate::{clipboard, store};

struct Screen<'a> {
    vault: Vault,
    clock: &'a dyn Clock,
    filter: String,
    selected: usize,
    status: String,
}

/// Restores the terminal however the loop ends (error or panic included).
struct RawMode;

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = execute!(stdout(), cursor::Show, terminal::LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}

/// Runs the interactive list until the user quits.
pub fn run(vault: Vault, clock: &dyn Clock) -> Result<(), Failure> {
    let tty = |e: std::io::Error| Failure::new(format!("terminal: {e}"));
    terminal::enable_raw_mode().map_err(tty)?;
    let _guard = RawMode;
    execute!(stdout(), terminal::EnterAlternateScreen, cursor::Hide).map_err(tty)?;
    let mut screen = Screen {
        vault,
        clock,
        filter: String::new(),
        selected: 0,
        status: String::new(),
    };
    loop {
        screen.draw().map_err(tty)?;
        // Wake at least every 250 ms so the countdown stays exact.
        if !event::poll(Duration::from_millis(250)).map_err(tty)? {
            continue;
        }
        let Event::Key(key) = event::read().map_err(tty)? else {
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c' | 'd') if ctrl => return Ok(()),
            KeyCode::Esc if screen.filter.is_empty() => return Ok(()),
            KeyCode::Esc => screen.set_filter(String::new()),
            KeyCode::Backspace => {
                let mut f = screen.filter.clone();
                f.pop();
                screen.set_filter(f);
            }
            KeyCode::Up => screen.selected = screen.selected.saturating_sub(1),
            KeyCode::Down => {
                let count = screen.visible().len();
                if screen.selected + 1 < count {
                    screen.selected += 1;
                }
            }
            KeyCode::Enter => screen.copy_selected(),
            KeyCode::Char(c) if !ctrl => {
                let mut f = screen.filter.clone();
                f.push(c);
                screen.set_filter(f);
            }
            _ => {}
        }
    }
}

impl Screen<'_> {
    fn visible(&self) -> Vec<usize> {
        self.vault
            .entries()
            .iter()
            .enumerate()
            .filter(|(_, e)| e.account.matches(&self.filter))
            .map(|(i, _)| i)
            .collect()
    }

    fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        self.selected = 0;
        self.status.clear();
    }

    fn copy_selected(&mut self) {
        let visible = self.visible();
        let Some(&index) = visible.get(self.selected) else {
            return;
        };
        let entry = &self.vault.entries()[index];
        let code = entry.account.code(self.clock.now());
        let name = entry.account.display_name();
        let id = entry.id.clone();
        let hotp_next =
            (entry.account.otp.kind() == OtpKind::Hotp).then(|| entry.account.otp.counter() + 1);
        self.status = match clipboard::copy(&code.value, clipboard::clear_after()) {
            Ok(()) => format!(
                "Copied {name}; the clipboard clears in {} s.",
                clipboard::clear_after().as_secs()
            ),
            // No clipboard (a server over SSH, no display): show the code instead.
            Err(_) => format!(
                "No clipboard here: the code of {name} is {}",
                code.grouped()
            ),
        };
        if let Some(counter) = hotp_next {
            let saved = store::lock(self.vault.path()).and_then(|_lock| {
                self.vault.set_counter(&id, counter)?;
                self.vault.save()?;
                Ok(store::warning_after_change(&self.vault, self.clock.now()))
            });
            match saved {
                Ok(Some(warning)) => self.status = warning,
                Ok(None) => {}
                Err(e) => self.status = format!("Could not save the HOTP counter: {e}"),
            }
        }
    }

    fn draw(&self) -> std::io::Result<()> {
        let (width, height) = terminal::size().unwrap_or((80, 24));
        let width = usize::from(width);
        let at = self.clock.now();
        let mut out = stdout();
        queue!(out, cursor::MoveTo(0, 0), Clear(ClearType::All))?;
        let header = format!(
            "assent  {} accounts   type to filter, \u{2191}\u{2193} select, Enter copy, Esc quit",
            self.vault.entries().len()
        );
        queue!(
            out,
            SetAttribute(Attribute::Bold),
            Print(truncate(&header, width)),
            SetAttribute(Attribute::Reset),
            cursor::MoveToNextLine(1),
            Print(truncate(&format!("filter: {}", self.filter), width)),
            cursor::MoveToNextLine(2),
        )?;
        let visible = self.visible();
        let rows = usize::from(height).saturating_sub(5);
        let first = self.selected.saturating_sub(rows.saturating_sub(1));
        for (row, &index) in visible.iter().enumerate().skip(first).take(rows) {
            let account = &self.vault.entries()[index].account;
            let code = account.code(at);
            let bar = match code.remaining_seconds {
                Some(left) => countdown(left, account.otp.period()),
                None => "  next code: Enter       ".to_owned(),
            };
            let line = format!(
                "{} {:<10} {bar}  {}",
                if row == self.selected { '>' } else { ' ' },
                code.grouped(),
                account.display_name()
            );
            if row == self.selected {
                queue!(out, SetAttribute(Attribute::Reverse))?;
            }
            queue!(
                out,
                Print(truncate(&line, width)),
                SetAttribute(Attribute::Reset),
                cursor::MoveToNextLine(1)
            )?;
        }
        if visible.is_empty() {
            queue!(
                out,
                Print("  (no account matches)"),
                cursor::MoveToNextLine(1)
            )?;
        }
        queue!(
            out,
            cursor::MoveTo(0, height.saturating_sub(1)),
            Print(truncate(&self.status, width))
        )?;
        out.flush()
    }
}

/// `[#######.....] 17s`: time left in the period, ten cells wide.
fn countdown(left: u32, period: u32) -> String {
    let filled = (left as usize * 10)
        .div_ceil(period.max(1) as usize)
        .min(10);
    format!(
        "[{}{}] {left:>3}s",
        "#".repeat(filled),
        ".".repeat(10 - filled)
    )
}

fn truncate(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}
