//! Sending through the LINE Messaging API, shared by the `line` and
//! `kanameto` plugins.
//!
//! Both plugins deliver the same way: text messages pushed to LINE user ids
//! of one LINE official account, with LINE's retry key so that a retried
//! request is never delivered twice. They differ only in what they do with
//! webhooks (`line` parses them in `full` mode; KANAMETO owns its account's
//! webhook), so everything about sending lives here once:
//!
//! - [`text`]: a message's content as at most five LINE text objects within
//!   LINE's 5,000-character limit;
//! - [`message`]: those texts with the content's buttons (a buttons
//!   template) and quick replies (date pickers included);
//! - [`reply`]: answering an event with its reply token;
//! - [`retry_key`]: the `X-Line-Retry-Key` of a push (the delivery's own key)
//!   and of a multicast (a UUID derived from all its recipients' keys);
//! - [`answer`]: LINE's answers mapped onto the contract's outcomes;
//! - [`send`]: a batch as pushes or multicasts, and the outcome of each
//!   recipient.

pub mod answer;
pub mod message;
pub mod reply;
pub mod retry_key;
pub mod send;
pub mod text;

pub use send::{DEFAULT_API_BASE, Delivery, MulticastPolicy, deliver, deliver_many, is_user_id};
