//! Operator overrides (SPEC section 9.2): a target, or every model of a provider, disabled by
//! `POST /api/admin/targets/disable` until enabled again or until `for_s` runs out.

use std::time::{Duration, SystemTime};

/// One disable order.
#[derive(Debug, Clone, PartialEq)]
pub struct Disabled {
    /// Why, as the operator said it.
    pub reason: Option<String>,
    /// When it lapses (`None`: until enabled).
    pub until: Option<SystemTime>,
}

impl Disabled {
    /// Disabled now for `for_s` seconds (or until enabled; also when `for_s` reaches past what
    /// a clock can say).
    pub fn new(reason: Option<String>, for_s: Option<u64>) -> Disabled {
        Disabled {
            reason,
            until: for_s.and_then(|s| SystemTime::now().checked_add(Duration::from_secs(s))),
        }
    }

    /// Still in force at `now`.
    pub fn in_force(&self, now: SystemTime) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}
