//! The questions `assent watch` asks about each request, without I/O: which request is asked
//! and which wait, what is printed, what a typed line means, and when a request's time is over.
//! The caller passes the time and the lines read, prints what comes back, and sends the answers
//! decided here; so every rule is tested without a terminal, a portal or a sleep.

use std::collections::VecDeque;

use assent_protocol::Response;

use crate::decision::{self, Decision};
use crate::failure::Failure;
use crate::request::{self, Found};

/// The first question about each request.
const DECISION_PROMPT: &str = "Approve? [y]es / [n]o / [r]eport not me: ";

/// How a request arrived, shown with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Pushed by the relay's stream.
    Stream,
    /// Found by polling the portal.
    Poll,
}

/// Something to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A line, with its newline.
    Say(String),
    /// A question, without one: the answer is typed after it.
    Ask(String),
}

/// What became of the request that was asked.
#[derive(Debug)]
pub enum Outcome {
    /// The person decided: `response` is to be signed and sent for `found`.
    Decided {
        /// The request (boxed: it is most of the outcome's size).
        found: Box<Found>,
        /// Its answer.
        response: Response,
    },
    /// The person decided, but that answer cannot be given from here (user verification).
    Refused(Failure),
    /// Its time ran out first (its short id).
    Expired(String),
}

/// What one [`Prompts::step`] did.
#[derive(Debug, Default)]
pub struct Step {
    /// What to print, in order.
    pub output: Vec<Output>,
    /// Set when the request being asked was handled.
    pub outcome: Option<Outcome>,
}

/// The question being asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Approve, deny or report.
    Decision,
    /// The number of that many digits, after a yes.
    Number(u8),
}

#[derive(Debug)]
struct Asking {
    found: Found,
    stage: Stage,
}

/// The requests `watch` asks about: the one being asked, those waiting their turn, and the lines
/// typed that were not read yet.
#[derive(Debug)]
pub struct Prompts {
    asking: Option<Asking>,
    waiting: VecDeque<(Found, Source)>,
    lines: VecDeque<String>,
    terminal: bool,
}

impl Prompts {
    /// No request yet; `terminal` when standard input is a terminal (see [`Prompts::line`]).
    pub fn new(terminal: bool) -> Self {
        Self {
            asking: None,
            waiting: VecDeque::new(),
            lines: VecDeque::new(),
            terminal,
        }
    }

    /// A request to ask about after those already waiting. One that is being asked or waits
    /// already is not queued twice (a poll may bring back a request the relay pushed, once the
    /// vault that remembered it was replaced by the copy an answer saved).
    pub fn offer(&mut self, found: Found, source: Source) {
        let id = &found.challenge.id;
        let known = self
            .asking
            .as_ref()
            .is_some_and(|a| &a.found.challenge.id == id)
            || self.waiting.iter().any(|(f, _)| &f.challenge.id == id);
        if !known {
            self.waiting.push_back((found, source));
        }
    }

    /// A line of standard input. On a terminal, what was typed while nothing was asked is not
    /// an answer to the next request, and is dropped; piped input is taken in order.
    pub fn line(&mut self, line: String) {
        if self.asking.is_some() || !self.terminal {
            self.lines.push_back(line);
        }
    }

    /// Whether a request is being asked and no line waits to be read: with standard input
    /// closed, it can never be answered.
    pub fn needs_a_line(&self) -> bool {
        self.asking.is_some() && self.lines.is_empty()
    }

    /// Advances at `now`: gives up on the request asked if its time is over, else asks the next
    /// one that still has time, and reads the lines typed until the request is decided or a
    /// question waits for another line.
    pub fn step(&mut self, now: u64) -> Step {
        let mut output = Vec::new();
        let outcome = self.advance(now, &mut output);
        Step { output, outcome }
    }

    fn advance(&mut self, now: u64, out: &mut Vec<Output>) -> Option<Outcome> {
        if let Some(asking) = &self.asking
            && now > asking.found.challenge.exp
        {
            let id = request::short(&asking.found.challenge.id).to_owned();
            self.asking = None;
            out.push(Output::Say(format!(
                "\nRequest {id} expired before it was answered."
            )));
            return Some(Outcome::Expired(id));
        }
        if self.asking.is_none() {
            while let Some((found, source)) = self.waiting.pop_front() {
                if now > found.challenge.exp {
                    continue;
                }
                show(&found, source, now, out);
                self.asking = Some(Asking {
                    found,
                    stage: Stage::Decision,
                });
                break;
            }
        }
        loop {
            let asking = self.asking.as_mut()?;
            let line = self.lines.pop_front()?;
            let answer = line.trim().to_ascii_lowercase();
            let decision = match (asking.stage, answer.as_str()) {
                (Stage::Decision, "y" | "yes") => {
                    match asking.found.challenge.content.number_matching {
                        Some(n) => {
                            asking.stage = Stage::Number(n.digits);
                            out.push(Output::Ask(format!(
                                "Number shown on the sign-in page ({} digits): ",
                                n.digits
                            )));
                            continue;
                        }
                        None => Decision::Approve { number: None },
                    }
                }
                (Stage::Decision, "n" | "no") => Decision::Deny { not_me: false },
                (Stage::Decision, "r" | "report") => Decision::Deny { not_me: true },
                (Stage::Decision, _) => {
                    out.push(Output::Ask("Please answer y, n or r: ".to_owned()));
                    continue;
                }
                (Stage::Number(digits), typed) => {
                    if !decision::is_number(typed, digits) {
                        out.push(Output::Ask(format!(
                            "Type the {digits} digits shown on the sign-in page: "
                        )));
                        continue;
                    }
                    Decision::Approve {
                        number: Some(typed.to_owned()),
                    }
                }
            };
            let found = self.asking.take()?.found;
            return Some(match decision::response(&found.challenge, decision) {
                Ok(response) => Outcome::Decided {
                    found: Box::new(found),
                    response,
                },
                Err(why) => Outcome::Refused(why),
            });
        }
    }
}

/// The request as it is first shown: what, for whom, from where, then the first question.
fn show(found: &Found, source: Source, now: u64, out: &mut Vec<Output>) {
    let mut purpose = request::purpose_text(found.challenge.content.purpose).to_owned();
    if let Some(first) = purpose.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    let via = match source {
        Source::Stream => "pushed by the relay",
        Source::Poll => "found by polling the portal",
    };
    out.push(Output::Say(format!(
        "\n{purpose} request {} for {} ({via}):",
        request::short(&found.challenge.id),
        found.label
    )));
    out.extend(
        request::describe(&found.challenge, now)
            .into_iter()
            .map(Output::Say),
    );
    out.push(Output::Ask(DECISION_PROMPT.to_owned()));
}

#[cfg(test)]
mod tests {
    use assent_protocol::{
        Challenge, ChallengeContent, DenyReason, LoginContext, NumberMatching, Purpose,
        UserVerification,
    };

    use super::*;

    /// The time the tests start at.
    const NOW: u64 = 1_700_000_000;

    /// A sign-in request `id` that expires 60 s after [`NOW`], with a number of `digits` to
    /// type when there is one.
    fn request(id: &str, digits: Option<u8>) -> Found {
        Found {
            device_id: "device".into(),
            label: "Example (alice)".into(),
            portal: "https://portal.example".into(),
            challenge: Challenge {
                id: id.into(),
                device_id: "device".into(),
                iat: NOW,
                exp: NOW + 60,
                content: ChallengeContent {
                    purpose: Purpose::Login,
                    context: LoginContext {
                        user: "alice".into(),
                        application: "Example".into(),
                        ip: Some("192.0.2.1".into()),
                        location: None,
                        browser: Some("Firefox".into()),
                        os: Some("Linux".into()),
                    },
                    number_matching: digits.map(|digits| NumberMatching { digits }),
                    user_verification: UserVerification::Preferred,
                },
                jws: "a.b.c".into(),
            },
        }
    }

    /// [`Prompts`] on piped input, with `found` offered and shown.
    fn asking(found: Found) -> Prompts {
        let mut prompts = Prompts::new(false);
        prompts.offer(found, Source::Poll);
        let shown = prompts.step(NOW);
        assert!(shown.outcome.is_none());
        prompts
    }

    /// Types `lines` and steps once at `now`.
    fn typed(prompts: &mut Prompts, lines: &[&str], now: u64) -> Step {
        for line in lines {
            prompts.line((*line).to_owned());
        }
        prompts.step(now)
    }

    fn questions(step: &Step) -> Vec<&str> {
        step.output
            .iter()
            .filter_map(|o| match o {
                Output::Ask(q) => Some(q.as_str()),
                Output::Say(_) => None,
            })
            .collect()
    }

    /// The id and the answer of a decided request.
    fn decided(step: Step) -> (String, Response) {
        match step.outcome {
            Some(Outcome::Decided { found, response }) => (found.challenge.id, response),
            other => panic!("not decided: {other:?}"),
        }
    }

    #[test]
    fn a_request_is_shown_then_asked() {
        let mut prompts = Prompts::new(true);
        assert!(prompts.step(NOW).output.is_empty(), "nothing to ask yet");
        prompts.offer(request("AbCdEfGhIjKl", Some(2)), Source::Stream);
        let step = prompts.step(NOW + 15);
        assert!(step.outcome.is_none());
        assert_eq!(
            step.output,
            [
                "\nSign-in request AbCdEfGh for Example (alice) (pushed by the relay):",
                "  user:        alice",
                "  application: Example",
                "  from:        192.0.2.1",
                "  browser:     Firefox on Linux",
                "  expires in:  45 s",
                "  number:      type the 2-digit number shown on the sign-in page",
            ]
            .map(|line| Output::Say(line.to_owned()))
            .into_iter()
            .chain([Output::Ask(DECISION_PROMPT.to_owned())])
            .collect::<Vec<_>>()
        );
        assert!(prompts.needs_a_line());
        // Asked once: the next step waits for a line.
        assert!(prompts.step(NOW + 16).output.is_empty());
    }

    #[test]
    fn approved_with_the_right_digits() {
        let mut prompts = asking(request("one", Some(2)));
        let step = typed(&mut prompts, &[" Y "], NOW + 1);
        assert!(step.outcome.is_none());
        assert_eq!(
            questions(&step),
            ["Number shown on the sign-in page (2 digits): "]
        );
        let (id, response) = decided(typed(&mut prompts, &["07"], NOW + 2));
        assert_eq!(id, "one");
        assert_eq!(
            response,
            Response::Approve {
                number: Some("07".into()),
                user_verified: false
            }
        );
        assert!(!prompts.needs_a_line(), "nothing is asked any more");
    }

    #[test]
    fn a_request_without_a_number_is_approved_by_yes() {
        let mut prompts = asking(request("one", None));
        let (_, response) = decided(typed(&mut prompts, &["yes"], NOW + 1));
        assert_eq!(
            response,
            Response::Approve {
                number: None,
                user_verified: false
            }
        );
    }

    #[test]
    fn digits_of_the_wrong_form_are_asked_again() {
        let mut prompts = asking(request("one", Some(2)));
        let step = typed(&mut prompts, &["y", "7", "0a", "123", ""], NOW + 1);
        assert!(step.outcome.is_none(), "{:?}", step.outcome);
        let again = "Type the 2 digits shown on the sign-in page: ";
        assert_eq!(
            questions(&step),
            [
                "Number shown on the sign-in page (2 digits): ",
                again,
                again,
                again,
                again
            ]
        );
        assert!(prompts.needs_a_line());
        let (_, response) = decided(typed(&mut prompts, &["42"], NOW + 2));
        assert!(matches!(response, Response::Approve { number: Some(n), .. } if n == "42"));
    }

    #[test]
    fn an_unclear_answer_is_asked_again() {
        let mut prompts = asking(request("one", None));
        let step = typed(&mut prompts, &["maybe", ""], NOW + 1);
        assert!(step.outcome.is_none());
        assert_eq!(
            questions(&step),
            ["Please answer y, n or r: ", "Please answer y, n or r: "]
        );
    }

    #[test]
    fn a_deny_and_a_report() {
        for (line, reason) in [
            ("n", DenyReason::Cancelled),
            ("No", DenyReason::Cancelled),
            ("r", DenyReason::NotMe),
            ("report", DenyReason::NotMe),
        ] {
            let mut prompts = asking(request("one", Some(2)));
            let (_, response) = decided(typed(&mut prompts, &[line], NOW + 1));
            assert_eq!(
                response,
                Response::Deny {
                    reason: Some(reason),
                    user_verified: false
                },
                "{line}"
            );
        }
    }

    #[test]
    fn an_approval_the_terminal_cannot_give_is_refused() {
        let mut found = request("one", None);
        found.challenge.content.user_verification = UserVerification::Required;
        let mut prompts = asking(found);
        match typed(&mut prompts, &["y"], NOW + 1).outcome {
            Some(Outcome::Refused(why)) => {
                assert!(why.to_string().contains("user verification"), "{why}");
            }
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_request_that_expires_while_asked() {
        let mut prompts = asking(request("AbCdEfGhIjKl", Some(2)));
        let step = typed(&mut prompts, &["y"], NOW + 59);
        assert!(step.outcome.is_none());
        // Its last second still counts; the next one does not.
        assert!(prompts.step(NOW + 60).outcome.is_none());
        prompts.line("42".into());
        let step = prompts.step(NOW + 61);
        assert!(
            matches!(&step.outcome, Some(Outcome::Expired(id)) if id == "AbCdEfGh"),
            "{:?}",
            step.outcome
        );
        assert_eq!(
            step.output,
            [Output::Say(
                "\nRequest AbCdEfGh expired before it was answered.".into()
            )]
        );
        assert!(!prompts.needs_a_line());
    }

    #[test]
    fn a_request_that_expired_while_waiting_is_not_asked() {
        let mut prompts = Prompts::new(false);
        prompts.offer(request("late", None), Source::Poll);
        let step = prompts.step(NOW + 61);
        assert!(step.output.is_empty() && step.outcome.is_none());
        assert!(!prompts.needs_a_line());
    }

    #[test]
    fn two_requests_queued_are_asked_in_turn() {
        let mut prompts = Prompts::new(false);
        prompts.offer(request("first", None), Source::Stream);
        prompts.offer(request("second", Some(2)), Source::Poll);
        let step = prompts.step(NOW);
        assert_eq!(questions(&step), [DECISION_PROMPT], "one request at a time");
        assert!(
            matches!(&step.output[0], Output::Say(s) if s.contains("request first for")),
            "{:?}",
            step.output
        );
        // Piped answers typed ahead go to each request in turn.
        prompts.line("n".into());
        prompts.line("y".into());
        prompts.line("12".into());
        let (id, response) = decided(prompts.step(NOW + 1));
        assert_eq!(id, "first");
        assert!(matches!(response, Response::Deny { .. }));
        let step = prompts.step(NOW + 2);
        assert!(
            matches!(&step.output[0], Output::Say(s) if s.contains("request second for")),
            "{:?}",
            step.output
        );
        let (id, response) = decided(step);
        assert_eq!(id, "second");
        assert!(matches!(response, Response::Approve { number: Some(n), .. } if n == "12"));
        assert!(prompts.step(NOW + 3).output.is_empty(), "nothing left");
    }

    #[test]
    fn a_request_offered_again_is_asked_once() {
        let mut prompts = Prompts::new(false);
        prompts.offer(request("one", None), Source::Stream);
        prompts.offer(request("one", None), Source::Poll);
        prompts.step(NOW);
        prompts.offer(request("one", None), Source::Poll);
        decided(typed(&mut prompts, &["n"], NOW + 1));
        let step = prompts.step(NOW + 2);
        assert!(step.output.is_empty() && step.outcome.is_none());
    }

    #[test]
    fn on_a_terminal_what_was_typed_before_a_question_is_dropped() {
        let mut prompts = Prompts::new(true);
        prompts.line("y".into());
        prompts.offer(request("one", None), Source::Stream);
        let step = prompts.step(NOW);
        assert!(step.outcome.is_none(), "the early y is no answer");
        assert!(prompts.needs_a_line());
        let (_, response) = decided(typed(&mut prompts, &["n"], NOW + 1));
        assert!(matches!(response, Response::Deny { .. }));
    }
}
