//! The clock of one attempt: its deadlines (first token, stall, attempt timeout, request
//! budget) and what it measured (time to first token, longest stall).

use std::time::Duration;

use switchboard_config::{ErrorKind, Policy};
use tokio::time::Instant;

/// Deadlines and measurements of one upstream attempt.
#[derive(Debug, Clone)]
pub struct AttemptClock {
    /// When the attempt started (request sent).
    pub started: Instant,
    end: Instant,
    end_is_budget: bool,
    first_token: Instant,
    stall: Duration,
    last_content: Option<Instant>,
    /// When the first content-bearing chunk arrived.
    pub first_content: Option<Instant>,
    /// The longest gap between content-bearing chunks.
    pub max_stall: Duration,
}

/// A deadline and what missing it means.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    /// When.
    pub at: Instant,
    /// The error kind if it passes.
    pub kind: ErrorKind,
    /// For the message.
    pub what: &'static str,
}

impl AttemptClock {
    /// Starts an attempt (at `started`) under `policy`, within the request's `budget_end`.
    pub fn start(started: Instant, policy: &Policy, budget_end: Instant) -> AttemptClock {
        let attempt_end = started + policy.timeout();
        let (end, end_is_budget) = if budget_end < attempt_end {
            (budget_end, true)
        } else {
            (attempt_end, false)
        };
        AttemptClock {
            started,
            end,
            end_is_budget,
            first_token: (started + policy.first_token_timeout()).min(end),
            stall: policy.stall_timeout(),
            last_content: None,
            first_content: None,
            max_stall: Duration::ZERO,
        }
    }

    /// The end of the attempt (timeout or budget), for non-stream calls.
    pub fn end(&self) -> Deadline {
        Deadline {
            at: self.end,
            kind: ErrorKind::Timeout,
            what: if self.end_is_budget {
                "the request's budget_ms ran out"
            } else {
                "the attempt ran past timeout_ms"
            },
        }
    }

    /// The deadline for the next content-bearing chunk of a stream.
    pub fn next_content(&self) -> Deadline {
        match self.last_content {
            None if self.first_token < self.end => Deadline {
                at: self.first_token,
                kind: ErrorKind::FirstTokenTimeout,
                what: "no content-bearing chunk within first_token_timeout_ms",
            },
            Some(last) if last + self.stall < self.end => Deadline {
                at: last + self.stall,
                kind: ErrorKind::Stall,
                what: "no content-bearing chunk within stall_timeout_ms",
            },
            _ => self.end(),
        }
    }

    /// A content-bearing chunk arrived now.
    pub fn on_content(&mut self) {
        let now = Instant::now();
        if let Some(last) = self.last_content {
            self.max_stall = self.max_stall.max(now.saturating_duration_since(last));
        }
        self.first_content.get_or_insert(now);
        self.last_content = Some(now);
    }

    /// The relay spent `paused` waiting on a slow client: that time is not the provider's stall.
    pub fn exclude(&mut self, paused: Duration) {
        if let Some(last) = self.last_content.as_mut() {
            *last += paused;
        }
    }

    /// When the last content-bearing chunk arrived, if any.
    pub fn last_content(&self) -> Option<Instant> {
        self.last_content
    }

    /// Seconds from the attempt's start to its first content, if any.
    pub fn time_to_first_token(&self) -> Option<Duration> {
        self.first_content.map(|t| t.duration_since(self.started))
    }
}
