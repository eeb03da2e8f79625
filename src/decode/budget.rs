//! A byte budget shared by the decode workers: every decompressed buffer in use counts against
//! it, so peak memory is bounded by the budget whatever the input, not by workers × cap.
//!
//! A worker asks for its grant while holding none (one grant per object, released when the
//! object is done), so waiting can never deadlock: whoever holds a grant is working, not
//! waiting, and will release it.

use std::sync::{Arc, Condvar, Mutex};

/// Bytes shared by the workers.
#[derive(Debug)]
pub struct Budget {
    total: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

/// Bytes taken from a [`Budget`], given back when dropped.
#[derive(Debug)]
pub struct Grant {
    budget: Arc<Budget>,
    bytes: u64,
}

impl Budget {
    pub fn new(total: u64) -> Arc<Budget> {
        Arc::new(Budget {
            total,
            used: Mutex::new(0),
            freed: Condvar::new(),
        })
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Blocks until `bytes` fit in the budget; `None` when they never can (more than all of
    /// it). Call from a worker thread, never from the async reactor.
    pub fn acquire(self: &Arc<Self>, bytes: u64) -> Option<Grant> {
        if bytes > self.total {
            return None;
        }
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *used + bytes > self.total {
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *used += bytes;
        Some(Grant {
            budget: self.clone(),
            bytes,
        })
    }

    fn give_back(&self, bytes: u64) {
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *used -= bytes;
        self.freed.notify_all();
    }
}

impl Grant {
    /// Gives back what is no longer needed, keeping `bytes`.
    pub fn shrink_to(&mut self, bytes: u64) {
        if bytes < self.bytes {
            self.budget.give_back(self.bytes - bytes);
            self.bytes = bytes;
        }
    }
}

impl Drop for Grant {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_wait_for_room_and_never_exceed_the_total() {
        let b = Budget::new(100);
        assert!(b.acquire(101).is_none());
        let mut a = b.acquire(60).unwrap();
        let b2 = b.clone();
        let waiter = std::thread::spawn(move || b2.acquire(70).map(|g| g.bytes));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "70 more do not fit beside 60");
        a.shrink_to(40);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "40 + 70 still do not fit");
        a.shrink_to(30);
        assert_eq!(waiter.join().unwrap(), Some(70), "30 + 70 fit");
        drop(a);
        assert_eq!(*b.used.lock().unwrap(), 0);
    }
}
