//! A request's life cycle as one table: [`transition`] maps every state and
//! event to the next state or a refusal.
//!
//! ```text
//! member   draft ──submit──▶ queued          returned ──submit──▶ resubmitted
//!          draft ◀──recall── queued          returned ◀──recall── resubmitted
//!          draft, returned ──edit──▶ (unchanged)
//! sync     queued, resubmitted ──uploaded──▶ sent
//! backend  sent ─▶ received ─▶ under_review ─▶ returned(reasons) | approved | rejected(reasons)
//!          returned ─▶ approved | rejected (a reviewer may decide without a resubmission)
//! ```
//!
//! The member edits only drafts and returned requests. Backend statuses may
//! skip steps (the phone was offline while the request moved on) and may
//! be delivered twice or late (a status pull repeated after a crash): a
//! status that does not move the request forward leaves it as it is, and
//! only a contradiction of a final decision is refused. Which *revision* a
//! status concerns is the outbox's business; this table knows states only.

use serde::{Deserialize, Serialize};

use super::error::TransitionError;

/// Where a request is in its life cycle.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RequestState {
    /// Being written on the phone; editable; not sent.
    Draft,
    /// Submitted by the member, waiting for the network.
    Queued,
    /// The backend acknowledged the upload.
    Sent,
    /// The backend registered it.
    Received,
    /// A reviewer is looking at it.
    UnderReview,
    /// Sent back to the member, who may edit it and submit it again.
    Returned {
        /// What the reviewer asks for.
        reasons: Vec<String>,
    },
    /// Edited after a return and submitted again, waiting for the network.
    Resubmitted {
        /// The reasons of the return it answers, kept so that a recall
        /// shows them again.
        reasons: Vec<String>,
    },
    /// Accepted. Final.
    Approved,
    /// Refused. Final.
    Rejected {
        /// Why.
        reasons: Vec<String>,
    },
}

// Manual: a reviewer's reasons can name a diagnosis, and Debug output ends
// up in logs.
impl std::fmt::Debug for RequestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Returned { reasons }
            | Self::Resubmitted { reasons }
            | Self::Rejected { reasons } => {
                write!(f, "{}({} reason(s))", self.name(), reasons.len())
            }
            _ => write!(f, "{}", self.name()),
        }
    }
}

impl RequestState {
    /// The state without its data.
    pub fn name(&self) -> StateName {
        match self {
            Self::Draft => StateName::Draft,
            Self::Queued => StateName::Queued,
            Self::Sent => StateName::Sent,
            Self::Received => StateName::Received,
            Self::UnderReview => StateName::UnderReview,
            Self::Returned { .. } => StateName::Returned,
            Self::Resubmitted { .. } => StateName::Resubmitted,
            Self::Approved => StateName::Approved,
            Self::Rejected { .. } => StateName::Rejected,
        }
    }

    /// Whether the member may edit it: a draft or a returned request.
    pub fn is_editable(&self) -> bool {
        matches!(self, Self::Draft | Self::Returned { .. })
    }

    /// Whether it waits for the sync engine to upload it: queued or
    /// resubmitted.
    pub fn is_pending_upload(&self) -> bool {
        matches!(self, Self::Queued | Self::Resubmitted { .. })
    }

    /// Whether the backend decided it (approved or rejected).
    pub fn is_decided(&self) -> bool {
        matches!(self, Self::Approved | Self::Rejected { .. })
    }
}

/// A state without its data: for messages, errors and the bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateName {
    /// [`RequestState::Draft`]
    Draft,
    /// [`RequestState::Queued`]
    Queued,
    /// [`RequestState::Sent`]
    Sent,
    /// [`RequestState::Received`]
    Received,
    /// [`RequestState::UnderReview`]
    UnderReview,
    /// [`RequestState::Returned`]
    Returned,
    /// [`RequestState::Resubmitted`]
    Resubmitted,
    /// [`RequestState::Approved`]
    Approved,
    /// [`RequestState::Rejected`]
    Rejected,
}

impl StateName {
    /// Every state, in life-cycle order.
    pub const ALL: [StateName; 9] = [
        Self::Draft,
        Self::Queued,
        Self::Sent,
        Self::Received,
        Self::UnderReview,
        Self::Returned,
        Self::Resubmitted,
        Self::Approved,
        Self::Rejected,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Received => "received",
            Self::UnderReview => "under_review",
            Self::Returned => "returned",
            Self::Resubmitted => "resubmitted",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

impl std::fmt::Display for StateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status the backend reports for a request.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ServerStatus {
    /// Registered.
    Received,
    /// Being reviewed.
    UnderReview,
    /// Sent back to the member with reasons.
    Returned {
        /// What the reviewer asks for.
        reasons: Vec<String>,
    },
    /// Accepted.
    Approved,
    /// Refused.
    Rejected {
        /// Why.
        reasons: Vec<String>,
    },
}

impl std::fmt::Debug for ServerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_state().fmt(f)
    }
}

impl ServerStatus {
    /// The state this status puts a request in.
    pub fn to_state(&self) -> RequestState {
        match self {
            Self::Received => RequestState::Received,
            Self::UnderReview => RequestState::UnderReview,
            Self::Returned { reasons } => RequestState::Returned {
                reasons: reasons.clone(),
            },
            Self::Approved => RequestState::Approved,
            Self::Rejected { reasons } => RequestState::Rejected {
                reasons: reasons.clone(),
            },
        }
    }

    /// Whether this is a final decision (approved or rejected).
    pub fn is_decision(&self) -> bool {
        matches!(self, Self::Approved | Self::Rejected { .. })
    }
}

/// A status change pulled from the backend: the status, and the revision of
/// the request it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The revision the backend holds and reports on.
    pub revision: u64,
    /// What became of it.
    pub status: ServerStatus,
}

/// What can happen to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The member changes its content.
    Edit,
    /// The member sends it (from a draft) or sends it again (once returned).
    Submit,
    /// The member takes a queued or resubmitted request back before it is
    /// sent, to edit it.
    Recall,
    /// The backend acknowledged an upload of it.
    Uploaded,
    /// The backend reported a status.
    Server(ServerStatus),
}

impl Event {
    /// The event without its data.
    pub fn name(&self) -> EventName {
        match self {
            Self::Edit => EventName::Edit,
            Self::Submit => EventName::Submit,
            Self::Recall => EventName::Recall,
            Self::Uploaded => EventName::Uploaded,
            Self::Server(ServerStatus::Received) => EventName::Received,
            Self::Server(ServerStatus::UnderReview) => EventName::UnderReview,
            Self::Server(ServerStatus::Returned { .. }) => EventName::Returned,
            Self::Server(ServerStatus::Approved) => EventName::Approved,
            Self::Server(ServerStatus::Rejected { .. }) => EventName::Rejected,
        }
    }
}

/// An event without its data: for messages and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventName {
    /// [`Event::Edit`]
    Edit,
    /// [`Event::Submit`]
    Submit,
    /// [`Event::Recall`]
    Recall,
    /// [`Event::Uploaded`]
    Uploaded,
    /// The backend reported [`ServerStatus::Received`].
    Received,
    /// The backend reported [`ServerStatus::UnderReview`].
    UnderReview,
    /// The backend reported [`ServerStatus::Returned`].
    Returned,
    /// The backend reported [`ServerStatus::Approved`].
    Approved,
    /// The backend reported [`ServerStatus::Rejected`].
    Rejected,
}

impl EventName {
    /// Every event.
    pub const ALL: [EventName; 9] = [
        Self::Edit,
        Self::Submit,
        Self::Recall,
        Self::Uploaded,
        Self::Received,
        Self::UnderReview,
        Self::Returned,
        Self::Approved,
        Self::Rejected,
    ];

    /// A verb phrase for messages ("cannot {event} a sent request").
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Edit => "edit",
            Self::Submit => "submit",
            Self::Recall => "recall",
            Self::Uploaded => "mark as uploaded",
            Self::Received => "mark as received",
            Self::UnderReview => "mark as under review",
            Self::Returned => "return",
            Self::Approved => "approve",
            Self::Rejected => "reject",
        }
    }
}

impl std::fmt::Display for EventName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state after `event` in `state`, or why the event is refused.
///
/// Returning `state` unchanged means the event is accepted and changes
/// nothing (a second tap on submit, a status delivered twice or late).
pub fn transition(state: &RequestState, event: &Event) -> Result<RequestState, TransitionError> {
    use RequestState as S;
    let refuse = || TransitionError::NotAllowed {
        state: state.name(),
        event: event.name(),
    };
    match (state, event) {
        (S::Draft | S::Returned { .. }, Event::Edit) => Ok(state.clone()),
        (_, Event::Edit) => Err(TransitionError::NotEditable {
            state: state.name(),
        }),

        (S::Draft, Event::Submit) => Ok(S::Queued),
        (S::Returned { reasons }, Event::Submit) => Ok(S::Resubmitted {
            reasons: reasons.clone(),
        }),
        (S::Queued | S::Resubmitted { .. }, Event::Submit) => Ok(state.clone()),
        (_, Event::Submit) => Err(refuse()),

        (S::Queued, Event::Recall) => Ok(S::Draft),
        (S::Resubmitted { reasons }, Event::Recall) => Ok(S::Returned {
            reasons: reasons.clone(),
        }),
        (_, Event::Recall) => Err(refuse()),

        (S::Queued | S::Resubmitted { .. }, Event::Uploaded) => Ok(S::Sent),
        // Recalled before the acknowledgement arrived: the member has it
        // back, and its next submission uploads it again.
        (S::Draft, Event::Uploaded) => Err(refuse()),
        // The backend's statuses got here before the acknowledgement did.
        (_, Event::Uploaded) => Ok(state.clone()),

        (_, Event::Server(status)) => server_status(state, status).ok_or_else(refuse),
    }
}

/// How far along the backend's process a state is; statuses move a request
/// forward only.
fn progress(state: &RequestState) -> u8 {
    match state {
        // The phone's own states: the backend may have the request already
        // (the acknowledgement was lost, or it was recalled after upload),
        // so any status it reports applies.
        RequestState::Draft
        | RequestState::Queued
        | RequestState::Resubmitted { .. }
        | RequestState::Sent => 0,
        RequestState::Received => 1,
        RequestState::UnderReview => 2,
        RequestState::Returned { .. } | RequestState::Approved | RequestState::Rejected { .. } => 3,
    }
}

fn server_status(state: &RequestState, status: &ServerStatus) -> Option<RequestState> {
    use RequestState as S;
    let target = status.to_state();
    match (state, &target) {
        // The same decision again (its reasons as last reported); any
        // other outcome contradicts a final decision.
        (S::Approved, S::Approved) | (S::Rejected { .. }, S::Rejected { .. }) => Some(target),
        (
            S::Approved | S::Rejected { .. },
            S::Returned { .. } | S::Approved | S::Rejected { .. },
        ) => None,
        // A reviewer may decide a returned request, or return it again
        // with other reasons.
        (S::Returned { .. }, S::Returned { .. } | S::Approved | S::Rejected { .. }) => Some(target),
        _ if progress(&target) > progress(state) => Some(target),
        // Late or repeated: the request has moved on already.
        _ => Some(state.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One representative state per name; reasons differ per state so a
    /// test sees which reasons a transition kept.
    fn state(name: StateName) -> RequestState {
        match name {
            StateName::Draft => RequestState::Draft,
            StateName::Queued => RequestState::Queued,
            StateName::Sent => RequestState::Sent,
            StateName::Received => RequestState::Received,
            StateName::UnderReview => RequestState::UnderReview,
            StateName::Returned => RequestState::Returned {
                reasons: vec!["old return".into()],
            },
            StateName::Resubmitted => RequestState::Resubmitted {
                reasons: vec!["old return".into()],
            },
            StateName::Approved => RequestState::Approved,
            StateName::Rejected => RequestState::Rejected {
                reasons: vec!["old rejection".into()],
            },
        }
    }

    fn event(name: EventName) -> Event {
        match name {
            EventName::Edit => Event::Edit,
            EventName::Submit => Event::Submit,
            EventName::Recall => Event::Recall,
            EventName::Uploaded => Event::Uploaded,
            EventName::Received => Event::Server(ServerStatus::Received),
            EventName::UnderReview => Event::Server(ServerStatus::UnderReview),
            EventName::Returned => Event::Server(ServerStatus::Returned {
                reasons: vec!["new return".into()],
            }),
            EventName::Approved => Event::Server(ServerStatus::Approved),
            EventName::Rejected => Event::Server(ServerStatus::Rejected {
                reasons: vec!["new rejection".into()],
            }),
        }
    }

    /// What a cell of the table below means.
    fn expected(
        cell: &str,
        from: &RequestState,
        on: &Event,
    ) -> Result<RequestState, TransitionError> {
        let old = vec!["old return".to_string()];
        match cell {
            "=" => Ok(from.clone()),
            "D" => Ok(RequestState::Draft),
            "Q" => Ok(RequestState::Queued),
            "S" => Ok(RequestState::Sent),
            "Rc" => Ok(RequestState::Received),
            "UR" => Ok(RequestState::UnderReview),
            "Rt" => Ok(RequestState::Returned {
                reasons: vec!["new return".into()],
            }),
            "Rt*" => Ok(RequestState::Returned { reasons: old }),
            "RS*" => Ok(RequestState::Resubmitted { reasons: old }),
            "A" => Ok(RequestState::Approved),
            "Rj" => Ok(RequestState::Rejected {
                reasons: vec!["new rejection".into()],
            }),
            "ne" => Err(TransitionError::NotEditable { state: from.name() }),
            "x" => Err(TransitionError::NotAllowed {
                state: from.name(),
                event: on.name(),
            }),
            other => panic!("unknown cell {other}"),
        }
    }

    /// Every state (rows, in [`StateName::ALL`] order) × every event
    /// (columns, in [`EventName::ALL`] order).
    ///
    /// `=` unchanged · `ne` not editable · `x` refused · `*` keeps the old
    /// return's reasons · D Q S Rc UR Rt RS A Rj the states.
    #[rustfmt::skip]
    const TABLE: [[&str; 9]; 9] = [
        //                 Edit  Submit Recall Upload Recvd Review Return Approve Reject
        /* draft       */ ["=",  "Q",   "x",   "x",   "Rc", "UR",  "Rt",  "A",    "Rj"],
        /* queued      */ ["ne", "=",   "D",   "S",   "Rc", "UR",  "Rt",  "A",    "Rj"],
        /* sent        */ ["ne", "x",   "x",   "=",   "Rc", "UR",  "Rt",  "A",    "Rj"],
        /* received    */ ["ne", "x",   "x",   "=",   "=",  "UR",  "Rt",  "A",    "Rj"],
        /* under_review*/ ["ne", "x",   "x",   "=",   "=",  "=",   "Rt",  "A",    "Rj"],
        /* returned    */ ["=",  "RS*", "x",   "=",   "=",  "=",   "Rt",  "A",    "Rj"],
        /* resubmitted */ ["ne", "=",   "Rt*", "S",   "Rc", "UR",  "Rt",  "A",    "Rj"],
        /* approved    */ ["ne", "x",   "x",   "=",   "=",  "=",   "x",   "=",    "x"],
        /* rejected    */ ["ne", "x",   "x",   "=",   "=",  "=",   "x",   "x",    "Rj"],
    ];

    #[test]
    fn the_transition_table_holds_for_every_state_and_event() {
        let mut checked = 0;
        for (row, from_name) in TABLE.iter().zip(StateName::ALL) {
            for (cell, event_name) in row.iter().zip(EventName::ALL) {
                let from = state(from_name);
                let on = event(event_name);
                assert_eq!(from.name(), from_name);
                assert_eq!(on.name(), event_name);
                assert_eq!(
                    transition(&from, &on),
                    expected(cell, &from, &on),
                    "{from_name} × {event_name}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, StateName::ALL.len() * EventName::ALL.len());
    }

    #[test]
    fn the_name_lists_are_complete() {
        // A new variant breaks these matches, and then the lists and the
        // table must grow with it.
        for name in StateName::ALL {
            match name {
                StateName::Draft
                | StateName::Queued
                | StateName::Sent
                | StateName::Received
                | StateName::UnderReview
                | StateName::Returned
                | StateName::Resubmitted
                | StateName::Approved
                | StateName::Rejected => {}
            }
        }
        for name in EventName::ALL {
            match name {
                EventName::Edit
                | EventName::Submit
                | EventName::Recall
                | EventName::Uploaded
                | EventName::Received
                | EventName::UnderReview
                | EventName::Returned
                | EventName::Approved
                | EventName::Rejected => {}
            }
        }
        let unique =
            |names: Vec<&str>| names.iter().collect::<std::collections::HashSet<_>>().len();
        assert_eq!(unique(StateName::ALL.map(StateName::as_str).to_vec()), 9);
        assert_eq!(unique(EventName::ALL.map(EventName::as_str).to_vec()), 9);
    }

    #[test]
    fn only_drafts_and_returned_requests_are_editable() {
        for name in StateName::ALL {
            let s = state(name);
            assert_eq!(
                s.is_editable(),
                transition(&s, &Event::Edit).is_ok(),
                "{name}"
            );
            assert_eq!(
                s.is_editable(),
                matches!(name, StateName::Draft | StateName::Returned)
            );
        }
    }

    #[test]
    fn a_full_life_with_a_return_ends_in_a_decision() {
        let mut s = RequestState::Draft;
        let reasons = vec!["the certificate is not signed".to_string()];
        for (on, then) in [
            (Event::Edit, StateName::Draft),
            (Event::Submit, StateName::Queued),
            (Event::Uploaded, StateName::Sent),
            (Event::Server(ServerStatus::Received), StateName::Received),
            (
                Event::Server(ServerStatus::UnderReview),
                StateName::UnderReview,
            ),
            (
                Event::Server(ServerStatus::Returned {
                    reasons: reasons.clone(),
                }),
                StateName::Returned,
            ),
            (Event::Edit, StateName::Returned),
            (Event::Submit, StateName::Resubmitted),
            (Event::Uploaded, StateName::Sent),
            (
                Event::Server(ServerStatus::UnderReview),
                StateName::UnderReview,
            ),
            (Event::Server(ServerStatus::Approved), StateName::Approved),
        ] {
            s = transition(&s, &on).unwrap();
            assert_eq!(s.name(), then, "after {:?}", on.name());
        }
        assert!(s.is_decided());
    }

    #[test]
    fn debug_counts_reasons_without_showing_them() {
        let s = RequestState::Returned {
            reasons: vec!["the psychiatric report is missing".into()],
        };
        assert_eq!(format!("{s:?}"), "returned(1 reason(s))");
        let status = ServerStatus::Rejected {
            reasons: vec!["psychiatric".into()],
        };
        assert!(!format!("{status:?}").contains("psychiatric"));
    }

    #[test]
    fn states_and_statuses_serialise_with_a_tag() {
        let s = RequestState::Returned {
            reasons: vec!["r".into()],
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"state":"returned","reasons":["r"]}"#
        );
        assert_eq!(
            serde_json::to_string(&RequestState::UnderReview).unwrap(),
            r#"{"state":"under_review"}"#
        );
        let change: StatusChange =
            serde_json::from_str(r#"{"revision":3,"status":{"status":"approved"}}"#).unwrap();
        assert_eq!(
            change,
            StatusChange {
                revision: 3,
                status: ServerStatus::Approved
            }
        );
    }
}
