//! What became of the requests this terminal saw: `<vault>.requests.json`, a small map from
//! request id to when it expires and, once answered here, what the portal said. It lets a late
//! or second `assent approve` say what happened ("expired at 14:02:11", "the portal refused its
//! answer: wrong_number …") instead of "not found". Nothing in it is secret: ids, times and
//! verdicts, no context, no keys. Entries are dropped an hour after their request expired.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::failure::{Context, Failure};

/// How long a request is remembered after it expired.
const KEEP_SECONDS: u64 = 3600;

/// One request as this terminal last knew it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    /// When the request expires (the portal's `exp`).
    exp: u64,
    /// What answering it here came to, once it was answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
}

/// The requests a vault's terminal saw, by id.
#[derive(Debug)]
pub struct History {
    path: PathBuf,
    by_id: BTreeMap<String, Entry>,
}

impl History {
    /// Reads the file beside the vault at `vault_path` (empty when there is none, or when it
    /// cannot be read: the history only improves messages, it never stops a command).
    pub fn load(vault_path: &Path) -> Self {
        let mut name = vault_path.as_os_str().to_owned();
        name.push(".requests.json");
        let path = PathBuf::from(name);
        let by_id = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self { path, by_id }
    }

    /// Remembers requests seen (by a poll or the relay's stream), expiring at their `exp`, and
    /// forgets those expired more than an hour before `now`.
    pub fn saw<'a>(&mut self, seen: impl IntoIterator<Item = (&'a str, u64)>, now: u64) {
        for (id, exp) in seen {
            self.by_id
                .entry(id.to_owned())
                .or_insert(Entry { exp, outcome: None });
        }
        self.by_id
            .retain(|_, e| e.exp.saturating_add(KEEP_SECONDS) >= now);
    }

    /// Remembers what answering the request `id` came to (the portal's verdict, or its refusal).
    pub fn answered(&mut self, id: &str, exp: u64, outcome: &str) {
        self.by_id.insert(
            id.to_owned(),
            Entry {
                exp,
                outcome: Some(outcome.to_owned()),
            },
        );
    }

    /// What became of the one remembered request whose id starts with `prefix`, in a sentence;
    /// `None` when none (or several) is remembered.
    pub fn explain(&self, prefix: &str, now: u64) -> Option<String> {
        let mut matching = self.by_id.iter().filter(|(id, _)| id.starts_with(prefix));
        let (id, entry) = matching.next()?;
        if matching.next().is_some() {
            return None;
        }
        let short = id.get(..8).unwrap_or(id);
        Some(match &entry.outcome {
            Some(outcome) => format!("request {short}… was already answered here: {outcome}"),
            None if now > entry.exp => format!(
                "request {short}… expired at {} UTC, before it was answered",
                clock_time(entry.exp)
            ),
            None => format!(
                "the portal no longer offers request {short}…: it was withdrawn (a newer request, \
                 a code typed instead, or the sign-in ended)"
            ),
        })
    }

    /// Writes the file with the core's crash-safe write (readable by the owner only).
    pub fn save(&self) -> Result<(), Failure> {
        let mut bytes =
            serde_json::to_vec_pretty(&self.by_id).map_err(|e| Failure::new(e.to_string()))?;
        bytes.push(b'\n');
        authenticator_core::atomic::write(&self.path, &bytes)
            .context(|| format!("writing {}", self.path.display()))
    }
}

/// `HH:MM:SS` of a Unix time, UTC.
fn clock_time(at: u64) -> String {
    let day = at % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_became_of_a_request() {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("vault.json");
        let mut history = History::load(&vault);
        history.saw(
            [
                ("aaaa1111xyz", 1_800_000_060),
                ("bbbb2222xyz", 1_800_000_060),
                ("cccc3333xyz", 1_800_000_060),
            ],
            1_800_000_000,
        );
        history.answered(
            "bbbb2222xyz",
            1_800_000_060,
            "the portal refused its answer: wrong_number",
        );
        history.save().unwrap();

        let history = History::load(&vault);
        assert_eq!(
            history.explain("aaaa", 1_800_000_061).as_deref(),
            Some("request aaaa1111… expired at 08:01:00 UTC, before it was answered")
        );
        assert_eq!(
            history.explain("bbbb", 1_800_000_030).as_deref(),
            Some(
                "request bbbb2222… was already answered here: the portal refused its answer: wrong_number"
            )
        );
        assert!(
            history
                .explain("cccc", 1_800_000_030)
                .unwrap()
                .contains("withdrawn")
        );
        assert_eq!(history.explain("dddd", 1_800_000_030), None);
        // Ambiguous: nothing said.
        assert_eq!(history.explain("", 1_800_000_030), None);
    }

    #[test]
    fn forgets_an_hour_after_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let mut history = History::load(&dir.path().join("vault.json"));
        history.saw([("old", 1_000)], 1_000);
        history.saw([("new", 10_000)], 1_000 + KEEP_SECONDS + 1);
        assert_eq!(history.explain("old", 20_000), None);
        assert!(history.explain("new", 20_000).is_some());
    }
}
