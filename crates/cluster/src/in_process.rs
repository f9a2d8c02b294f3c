//! The bus inside one process: for a single node, and as the sandbox where several nodes
//! (brokers in one test) share one bus. Routing follows NATS: subject patterns with `*` and
//! `>`, one member per queue group, requests answered through a reply subject, "no
//! responders" when nobody listens. Delivery is synchronous with `publish`, so tests under
//! Tokio's paused clock are deterministic.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio_stream_shim::UnboundedReceiverStream;

use crate::bus::{Bus, BusError, BusFuture, BusMessage, Headers, Subscription};
use crate::subject::subject_matches;

struct Sub {
    pattern: String,
    queue_group: Option<String>,
    tx: mpsc::UnboundedSender<BusMessage>,
}

#[derive(Default)]
struct State {
    subs: Vec<Sub>,
    /// Round-robin position per queue group.
    turns: HashMap<String, usize>,
}

/// An in-process bus; clones are handles to the same bus (one per node in a sandbox).
#[derive(Clone)]
pub struct InProcessBus {
    state: Arc<Mutex<State>>,
    next_inbox: Arc<AtomicU64>,
    gaps: Arc<watch::Sender<u64>>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        InProcessBus {
            state: Arc::default(),
            next_inbox: Arc::default(),
            gaps: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl InProcessBus {
    pub fn new() -> InProcessBus {
        InProcessBus::default()
    }

    /// What a lost and regained connection looks like to the nodes on this bus: every
    /// [`Bus::gaps`] watcher sees a gap (messages are not actually lost).
    pub fn interrupt(&self) {
        self.gaps.send_modify(|n| *n += 1);
    }

    /// Live subscriptions matching `subject`: what a test asks to see interest arrive or leave.
    pub fn interest(&self, subject: &str) -> usize {
        let state = self.state.lock();
        state
            .subs
            .iter()
            .filter(|s| !s.tx.is_closed() && subject_matches(&s.pattern, subject))
            .count()
    }

    /// Delivers to every matching plain subscriber and one member of each matching queue
    /// group; returns how many received it.
    fn deliver(&self, msg: BusMessage) -> usize {
        let mut state = self.state.lock();
        state.subs.retain(|s| !s.tx.is_closed());
        let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
        let mut delivered = 0;
        for (i, sub) in state.subs.iter().enumerate() {
            if !subject_matches(&sub.pattern, &msg.subject) {
                continue;
            }
            match &sub.queue_group {
                None => {
                    if sub.tx.send(msg.clone()).is_ok() {
                        delivered += 1;
                    }
                }
                Some(g) => match groups.iter_mut().find(|(name, _)| *name == g.as_str()) {
                    Some((_, members)) => members.push(i),
                    None => groups.push((g.as_str(), vec![i])),
                },
            }
        }
        let picks: Vec<(String, usize)> = groups
            .into_iter()
            .map(|(g, members)| {
                let turn = state.turns.get(g).copied().unwrap_or(0);
                (g.to_owned(), members[turn % members.len()])
            })
            .collect();
        for (g, i) in picks {
            *state.turns.entry(g).or_default() += 1;
            if state.subs[i].tx.send(msg.clone()).is_ok() {
                delivered += 1;
            }
        }
        delivered
    }

    fn add(&self, pattern: String, queue_group: Option<String>) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        self.state.lock().subs.push(Sub {
            pattern,
            queue_group,
            tx,
        });
        Subscription::new(UnboundedReceiverStream::new(rx).boxed())
    }
}

fn check_subject(subject: &str) -> Result<(), BusError> {
    let bad = subject.is_empty()
        || subject.split('.').any(str::is_empty)
        || subject.contains([' ', '\t', '\r', '\n']);
    if bad {
        Err(BusError::InvalidSubject(subject.to_owned()))
    } else {
        Ok(())
    }
}

impl Bus for InProcessBus {
    fn publish(&self, subject: String, headers: Headers, payload: Bytes) -> BusFuture<'_, ()> {
        let result = check_subject(&subject).map(|()| {
            self.deliver(BusMessage {
                subject,
                headers,
                payload,
                reply: None,
            });
        });
        Box::pin(async move { result })
    }

    fn subscribe(
        &self,
        subject: String,
        queue_group: Option<String>,
    ) -> BusFuture<'_, Subscription> {
        let result = check_subject(&subject).map(|()| self.add(subject, queue_group));
        Box::pin(async move { result })
    }

    fn request(
        &self,
        subject: String,
        headers: Headers,
        payload: Bytes,
        timeout: Duration,
    ) -> BusFuture<'_, BusMessage> {
        Box::pin(async move {
            check_subject(&subject)?;
            let inbox = format!("_INBOX.{}", self.next_inbox.fetch_add(1, Ordering::Relaxed));
            let mut answers = self.add(inbox.clone(), None);
            let delivered = self.deliver(BusMessage {
                subject: subject.clone(),
                headers,
                payload,
                reply: Some(inbox),
            });
            if delivered == 0 {
                return Err(BusError::NoResponders(subject));
            }
            match tokio::time::timeout(timeout, answers.next()).await {
                Ok(Some(answer)) => Ok(answer),
                Ok(None) => Err(BusError::Closed),
                Err(_) => Err(BusError::TimedOut(subject)),
            }
        })
    }

    fn flush(&self) -> BusFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn gaps(&self) -> watch::Receiver<u64> {
        self.gaps.subscribe()
    }
}

/// `tokio-stream` is not a dependency; this is the one adapter needed from it.
mod tokio_stream_shim {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::sync::mpsc;

    pub struct UnboundedReceiverStream<T>(mpsc::UnboundedReceiver<T>);

    impl<T> UnboundedReceiverStream<T> {
        pub fn new(rx: mpsc::UnboundedReceiver<T>) -> Self {
            UnboundedReceiverStream(rx)
        }
    }

    impl<T> futures_util::Stream for UnboundedReceiverStream<T> {
        type Item = T;

        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.0.poll_recv(cx)
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in pairs {
            h.push(*n, *v);
        }
        h
    }

    #[tokio::test(start_paused = true)]
    async fn wildcard_subscribers_receive_in_order_and_unsubscribe_on_drop() {
        let bus = InProcessBus::new();
        let mut star = bus.subscribe("f.m.a.*".into(), None).await.unwrap();
        let mut rest = bus.subscribe("f.m.>".into(), None).await.unwrap();
        for n in 0..3 {
            let h = headers(&[("N", &n.to_string())]);
            bus.publish("f.m.a.b".into(), h, Bytes::new())
                .await
                .unwrap();
        }
        bus.publish("f.m.c".into(), Headers::new(), Bytes::from_static(b"c"))
            .await
            .unwrap();
        for n in 0..3 {
            let got = star.next().await.unwrap();
            assert_eq!(got.headers.get("n"), Some(n.to_string().as_str()));
            assert_eq!(rest.next().await.unwrap().subject, "f.m.a.b");
        }
        assert_eq!(rest.next().await.unwrap().payload, "c");
        assert_eq!(bus.interest("f.m.a.b"), 2);
        star.unsubscribe();
        assert_eq!(bus.interest("f.m.a.b"), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_queue_group_gets_each_message_once_round_robin() {
        let bus = InProcessBus::new();
        let mut a = bus.subscribe("s".into(), Some("g".into())).await.unwrap();
        let mut b = bus.subscribe("s".into(), Some("g".into())).await.unwrap();
        let mut plain = bus.subscribe("s".into(), None).await.unwrap();
        for _ in 0..4 {
            bus.publish("s".into(), Headers::new(), Bytes::new())
                .await
                .unwrap();
        }
        drop(bus);
        let count = |s: &mut Subscription| {
            let mut n = 0;
            while s.next().now_or_never().flatten().is_some() {
                n += 1;
            }
            n
        };
        assert_eq!((count(&mut a), count(&mut b), count(&mut plain)), (2, 2, 4));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_are_answered_time_out_or_find_no_responders() {
        let bus = InProcessBus::new();
        let err = bus
            .request(
                "q".into(),
                Headers::new(),
                Bytes::new(),
                Duration::from_secs(1),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, BusError::NoResponders(_)), "{err}");

        let mut server = bus.subscribe("q".into(), None).await.unwrap();
        let responder = bus.clone();
        let answer = tokio::join!(
            bus.request(
                "q".into(),
                Headers::new(),
                Bytes::from_static(b"ping"),
                Duration::from_secs(1)
            ),
            async move {
                let req = server.next().await.unwrap();
                assert_eq!(req.payload, "ping");
                responder
                    .publish(
                        req.reply.unwrap(),
                        Headers::new(),
                        Bytes::from_static(b"pong"),
                    )
                    .await
                    .unwrap();
                server
            }
        );
        assert_eq!(answer.0.unwrap().payload, "pong");

        let _silent = answer.1;
        let err = bus
            .request(
                "q".into(),
                Headers::new(),
                Bytes::new(),
                Duration::from_secs(1),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, BusError::TimedOut(_)), "{err}");
    }

    #[tokio::test]
    async fn invalid_subjects_are_refused() {
        let bus = InProcessBus::new();
        for bad in ["", "a..b", "a b", ".a"] {
            assert!(matches!(
                bus.publish(bad.into(), Headers::new(), Bytes::new()).await,
                Err(BusError::InvalidSubject(_))
            ));
        }
    }
}
