//! A thread's spare request buffers: a request hands its tables back when it ends, and the
//! thread's next request takes them instead of allocating new ones. During thread exit the
//! spare is gone; buffers are then simply freed.

use std::cell::RefCell;
use std::thread::LocalKey;

/// Where a thread keeps one spare buffer.
pub type Spare<T> = RefCell<Option<T>>;

/// The thread's spare buffer, if it has one (taken: the spare is empty afterwards).
pub fn take<T: 'static>(spare: &'static LocalKey<Spare<T>>) -> Option<T> {
    spare
        .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.take()))
        .ok()
        .flatten()
}

/// Keeps `buffer` as the thread's spare for its next request.
pub fn keep<T: 'static>(spare: &'static LocalKey<Spare<T>>, buffer: T) {
    let _ = spare.try_with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            *s = Some(buffer);
        }
    });
}
