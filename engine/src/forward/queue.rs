//! The bounded in-memory queue between the request path and the forwarder's thread.
//!
//! A push takes one uncontended lock and never waits for room: a full queue refuses the item,
//! and the caller counts it as dropped. The consumer is woken only when a batch's worth of
//! items is waiting (or by its own timer), so a push normally makes no system call.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// A bounded multi-producer queue with one batch-draining consumer.
pub struct Queue<T> {
    items: Mutex<Items<T>>,
    wake: Condvar,
    capacity: usize,
    wake_at: usize,
}

/// The queued items and whether the queue is closed.
struct Items<T> {
    items: VecDeque<T>,
    closed: bool,
}

impl<T> Queue<T> {
    /// A queue holding at most `capacity` items, waking the consumer once `wake_at` wait.
    pub fn new(capacity: usize, wake_at: usize) -> Queue<T> {
        Queue {
            items: Mutex::new(Items {
                items: VecDeque::with_capacity(capacity.min(1 << 16)),
                closed: false,
            }),
            wake: Condvar::new(),
            capacity,
            wake_at: wake_at.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Items<T>> {
        self.items
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds an item; gives it back when the queue is full.
    pub fn push(&self, item: T) -> Result<(), T> {
        let mut q = self.lock();
        if q.closed || q.items.len() >= self.capacity {
            return Err(item);
        }
        q.items.push_back(item);
        if q.items.len() == self.wake_at {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Moves up to `max` items into `out`, waiting until `until` (or until the queue is
    /// closed) while fewer than a batch wait. Returns how many were moved.
    pub fn pop_batch(&self, max: usize, out: &mut Vec<T>, until: Instant) -> usize {
        let mut q = self.lock();
        while q.items.len() < self.wake_at.min(max) && !q.closed {
            let now = Instant::now();
            if now >= until {
                break;
            }
            q = match self.wake.wait_timeout(q, until - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        let n = q.items.len().min(max);
        out.extend(q.items.drain(..n));
        n
    }

    /// Refuses further items and wakes the consumer (shutdown); queued items stay to be
    /// drained.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }

    /// True once [`Queue::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// True when no item waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn full_queue_refuses_without_blocking() {
        let q = Queue::new(2, 10);
        assert!(q.push(1).is_ok());
        assert!(q.push(2).is_ok());
        assert_eq!(q.push(3), Err(3));
        let mut out = Vec::new();
        assert_eq!(q.pop_batch(10, &mut out, Instant::now()), 2);
        assert_eq!(out, vec![1, 2]);
        assert!(q.push(3).is_ok());
    }

    #[test]
    fn consumer_wakes_when_a_batch_is_ready() {
        let q = std::sync::Arc::new(Queue::new(100, 3));
        let producer = {
            let q = q.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                for i in 0..3 {
                    q.push(i).unwrap();
                }
            })
        };
        let start = Instant::now();
        let mut out = Vec::new();
        q.pop_batch(10, &mut out, start + Duration::from_secs(10));
        assert_eq!(out, vec![0, 1, 2]);
        assert!(start.elapsed() < Duration::from_secs(5));
        producer.join().unwrap();
    }

    #[test]
    fn consumer_returns_at_its_deadline() {
        let q: Queue<u8> = Queue::new(10, 5);
        q.push(1).unwrap();
        let start = Instant::now();
        let mut out = Vec::new();
        q.pop_batch(10, &mut out, start + Duration::from_millis(30));
        assert_eq!(out, vec![1]);
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn closing_wakes_the_consumer_and_refuses_pushes() {
        let q = std::sync::Arc::new(Queue::new(10, 5));
        q.push(1).unwrap();
        let closer = {
            let q = q.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                q.close();
            })
        };
        let start = Instant::now();
        let mut out = Vec::new();
        q.pop_batch(10, &mut out, start + Duration::from_secs(30));
        assert_eq!(out, vec![1]);
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(q.push(2), Err(2));
        assert!(q.is_closed());
        closer.join().unwrap();
    }
}
