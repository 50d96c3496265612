//! Answers one contact's events in the order their webhooks arrived.
//!
//! Each webhook's answers run in a task of their own, after the platform
//! has had its answer. Two webhooks from one parent a moment apart (an
//! unblock right after a block; two taps) would otherwise race, and the
//! later event could be answered first, or not at all when the earlier
//! one moved the conversation under it. A webhook takes its place behind
//! every earlier webhook of the same contacts as it is received (in the
//! handler, before it answers), and its task waits for those to finish.
//! Places are taken for all of a webhook's contacts at once under one
//! lock, so a task waits only for earlier ones and no two wait for each
//! other.
//!
//! This orders one node. Across nodes the conversation's saved round is
//! the guard (see `converse`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// One contact: tenant, channel and address.
pub(super) type Key = (String, String, String);

/// The queues of the contacts that have answers running.
#[derive(Default)]
pub(super) struct InTurn {
    /// For each contact with answers running: the latest place's number,
    /// and what ends when that place's answers end.
    tails: Mutex<HashMap<Key, (u64, oneshot::Receiver<()>)>>,
    next: std::sync::atomic::AtomicU64,
}

/// A webhook's place: what it waits for, and what it releases.
pub(super) struct Place {
    owner: Arc<InTurn>,
    number: u64,
    keys: Vec<Key>,
    before: Vec<oneshot::Receiver<()>>,
    /// Dropped when this place's answers end (or its task fails).
    _done: Vec<oneshot::Sender<()>>,
}

impl InTurn {
    /// Takes a place behind the earlier webhooks of `keys`' contacts.
    pub(super) fn place(self: &Arc<Self>, mut keys: Vec<Key>) -> Place {
        keys.sort();
        keys.dedup();
        let number = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut before = Vec::new();
        let mut done = Vec::new();
        let mut tails = self.tails.lock().unwrap_or_else(|p| p.into_inner());
        for key in &keys {
            let (tx, rx) = oneshot::channel();
            done.push(tx);
            if let Some((_, earlier)) = tails.insert(key.clone(), (number, rx)) {
                before.push(earlier);
            }
        }
        Place {
            owner: self.clone(),
            number,
            keys,
            before,
            _done: done,
        }
    }

    /// How many contacts have answers running or waiting.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.tails.lock().unwrap().len()
    }
}

impl Place {
    /// Waits until every earlier webhook of these contacts is answered.
    pub(super) async fn wait(&mut self) {
        for earlier in std::mem::take(&mut self.before) {
            // An error is an earlier task that ended without a word
            // (a panic): its turn is over all the same.
            let _ = earlier.await;
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        // A contact nobody queued behind is forgotten, so that the map
        // holds only contacts with answers running.
        let mut tails = self.owner.tails.lock().unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if tails.get(key).is_some_and(|(n, _)| *n == self.number) {
                tails.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(address: &str) -> Key {
        ("t".into(), "line".into(), address.into())
    }

    #[tokio::test]
    async fn a_later_place_waits_for_the_earlier_one_of_the_same_contact() {
        let queues = Arc::new(InTurn::default());
        let first = queues.place(vec![key("a"), key("b")]);
        let mut second = queues.place(vec![key("b")]);
        let mut other = queues.place(vec![key("c")]);
        // Another contact does not wait.
        other.wait().await;
        let waiting = tokio::spawn(async move {
            second.wait().await;
            second
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        let second = waiting.await.unwrap();
        // a is forgotten once its only place ended; b is still second's.
        assert_eq!(queues.len(), 2);
        drop(second);
        drop(other);
        assert_eq!(queues.len(), 0);
    }

    #[tokio::test]
    async fn places_are_kept_in_the_order_they_were_taken() {
        let queues = Arc::new(InTurn::default());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        let first = queues.place(vec![key("a")]);
        for i in 0..5 {
            let mut place = queues.place(vec![key("a")]);
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                place.wait().await;
                tx.send(i).unwrap();
            }));
        }
        // Started in reverse, still answered in order.
        tasks.reverse();
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        drop(tx);
        let mut order = Vec::new();
        while let Some(i) = rx.recv().await {
            order.push(i);
        }
        assert_eq!(order, [0, 1, 2, 3, 4]);
    }
}
