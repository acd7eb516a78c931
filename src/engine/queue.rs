//! The per-core job queue between the pacer and the connections of one core.
//!
//! Single-threaded by construction (`Rc`/`RefCell`, no atomics): the pacer pushes due jobs and
//! wakes one idle connection; a connection that finds the queue empty parks its waker.

use crate::engine::workload::Job;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

pub struct JobQueue {
    jobs: RefCell<VecDeque<Job>>,
    /// Parked connections, with a flag per connection so that none is parked twice.
    idle: RefCell<Vec<(usize, Waker)>>,
    parked: RefCell<Vec<bool>>,
    closed: Cell<bool>,
    capacity: usize,
}

/// Why `push` refused a job.
#[derive(Debug, PartialEq, Eq)]
pub struct QueueFull;

impl JobQueue {
    pub fn new(connections: usize, capacity: usize) -> Self {
        JobQueue {
            jobs: RefCell::new(VecDeque::with_capacity(capacity.min(65_536))),
            idle: RefCell::new(Vec::with_capacity(connections)),
            parked: RefCell::new(vec![false; connections]),
            closed: Cell::new(false),
            capacity,
        }
    }

    /// Queues a job and wakes one idle connection; returns the depth after the push.
    pub fn push(&self, job: Job) -> Result<usize, QueueFull> {
        let depth = {
            let mut jobs = self.jobs.borrow_mut();
            if jobs.len() >= self.capacity {
                return Err(QueueFull);
            }
            jobs.push_back(job);
            jobs.len()
        };
        self.wake_one();
        Ok(depth)
    }

    fn wake_one(&self) {
        let woken = self.idle.borrow_mut().pop();
        if let Some((conn, waker)) = woken {
            self.parked.borrow_mut()[conn] = false;
            waker.wake();
        }
    }

    /// No more jobs will come: parked connections wake up and, once the queue is empty, stop.
    pub fn close(&self) {
        self.closed.set(true);
        let wakers: Vec<_> = self.idle.borrow_mut().drain(..).collect();
        self.parked.borrow_mut().iter_mut().for_each(|p| *p = false);
        wakers.into_iter().for_each(|(_, w)| w.wake());
    }

    /// Takes every job still waiting (the run is over: they will never be sent).
    pub fn take_all(&self) -> Vec<Job> {
        self.jobs.borrow_mut().drain(..).collect()
    }

    /// Jobs still waiting for a connection.
    pub fn len(&self) -> usize {
        self.jobs.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the next job without waiting (a core that drives its connections itself:
    /// `engine::ring`).
    pub fn pop(&self) -> Option<Job> {
        self.jobs.borrow_mut().pop_front()
    }

    /// Waits for the next job for connection `conn`; `None` once closed and drained.
    pub fn next(&self, conn: usize) -> NextJob<'_> {
        NextJob { queue: self, conn }
    }
}

pub struct NextJob<'a> {
    queue: &'a JobQueue,
    conn: usize,
}

impl Future for NextJob<'_> {
    type Output = Option<Job>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Job>> {
        let q = self.queue;
        if let Some(job) = q.jobs.borrow_mut().pop_front() {
            return Poll::Ready(Some(job));
        }
        if q.closed.get() {
            return Poll::Ready(None);
        }
        let mut parked = q.parked.borrow_mut();
        let mut idle = q.idle.borrow_mut();
        if parked[self.conn] {
            if let Some(entry) = idle.iter_mut().find(|(c, _)| *c == self.conn) {
                entry.1.clone_from(cx.waker());
            }
        } else {
            parked[self.conn] = true;
            idle.push((self.conn, cx.waker().clone()));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn job(seq: u64) -> Job {
        Job { seq, intended: Instant::now(), kind: 0, nth: seq }
    }

    #[test]
    fn refuses_beyond_capacity_and_drains_in_order() {
        let q = JobQueue::new(1, 2);
        assert_eq!(q.push(job(1)), Ok(1));
        assert_eq!(q.push(job(2)), Ok(2));
        assert_eq!(q.push(job(3)), Err(QueueFull));
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(async {
            assert_eq!(q.next(0).await.map(|j| j.seq), Some(1));
            q.close();
            assert_eq!(q.next(0).await.map(|j| j.seq), Some(2));
            assert!(q.next(0).await.is_none());
        });
    }
}
