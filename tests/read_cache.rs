//! Per-thread read caches and dropped trackers: a thread that read a tracker
//! by name keeps the snapshot it last read in its cache; once the tracker is
//! dropped, that snapshot is released at the thread's next refresh of any
//! other tracker, or at once when it calls `release_thread_read_cache`, and
//! the dropped tracker's latest snapshot is never kept by the caches.
//!
//! Live heap bytes are counted by a global allocator; the tests of this file
//! take one lock, so no other test allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::mpsc;

use kat::Tracker;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn live() -> isize {
    LIVE.load(Ordering::SeqCst)
}

const TOPICS: usize = 50;
const PER_TOPIC: i32 = 400;

/// A tracker with 20 000 partitions assigned, and the bytes it holds.
fn big_tracker() -> Tracker {
    let t = Tracker::new();
    let g = t.group("big").unwrap();
    let names: Vec<String> = (0..TOPICS).map(|i| format!("topic-{i:02}")).collect();
    g.assigned(
        names
            .iter()
            .flat_map(|n| (0..PER_TOPIC).map(move |p| (n.as_str(), p))),
    )
    .unwrap();
    t
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs `job` on the reader thread and waits for it.
fn on_reader(tx: &mpsc::Sender<(Job, mpsc::Sender<()>)>, job: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = mpsc::channel();
    tx.send((Box::new(job), done_tx)).unwrap();
    done_rx.recv().unwrap();
}

#[test]
fn a_dropped_tracker_leaves_only_what_threads_read_and_they_release_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (tx, rx) = mpsc::channel::<(Job, mpsc::Sender<()>)>();
    let reader = std::thread::spawn(move || {
        for (job, done) in rx {
            job();
            done.send(()).unwrap();
        }
    });

    // A small tracker the reader reads often.
    let small = Tracker::new();
    let small_group = small.group("small").unwrap();
    small_group.assigned([("s", 0)]).unwrap();
    let s2 = small.clone();
    on_reader(&tx, move || assert!(s2.is_assigned("small", "s", 0)));

    // 1. Dropped, nobody read it: everything is freed.
    let before = live();
    let big = big_tracker();
    let size = live() - before;
    assert!(size > 500_000, "20 000 partitions take {size} bytes");
    drop(big);
    assert!(live() - before < 4_096, "{} bytes left", live() - before);

    // 2. The reader read it by name, then it is dropped: the reader's cache
    // still holds the snapshot it read — part of the tracker, not more.
    let before = live();
    let big = big_tracker();
    let size = live() - before;
    let b2 = big.clone();
    on_reader(&tx, move || {
        assert_eq!(b2.generation("big", "topic-07", 3), 1);
        drop(b2);
    });
    drop(big);
    let held = live() - before;
    assert!(
        held > 0 && held < size,
        "held {held} of the tracker's {size} bytes"
    );
    // Its next read of another tracker that changed releases it.
    small_group.revoked([("s", 0)]).unwrap();
    let s2 = small.clone();
    on_reader(&tx, move || assert!(!s2.is_assigned("small", "s", 0)));
    let left = live() - before;
    assert!(left < 4_096, "{left} of {held} bytes left after a refresh");

    // 3. The same, released by an explicit call instead.
    let before = live();
    let big = big_tracker();
    let b2 = big.clone();
    on_reader(&tx, move || {
        assert!(b2.is_assigned("big", "topic-42", 399));
        drop(b2);
    });
    drop(big);
    assert!(live() - before > 0);
    on_reader(&tx, kat::release_thread_read_cache);
    let left = live() - before;
    assert!(left < 4_096, "{left} bytes left after the release call");

    // 4. A reader whose latest read is of the dropped tracker and that reads
    // it no more also lets go once it reads the small one (in another slot).
    let before = live();
    let big = big_tracker();
    let b2 = big.clone();
    on_reader(&tx, move || {
        assert_eq!(b2.generation("big", "topic-00", 0), 1);
        drop(b2);
    });
    drop(big);
    let s2 = small.clone();
    on_reader(&tx, move || assert!(!s2.is_assigned("small", "s", 0)));
    let left = live() - before;
    assert!(
        left < 4_096,
        "{left} bytes left after a read of another tracker"
    );

    drop(tx);
    reader.join().unwrap();
}

/// A read by name from a thread-local destructor that runs after the
/// thread's read cache was destroyed gets the right answer (from the
/// published snapshot, not from a freed cached one).
#[test]
fn reads_from_thread_local_destructors_after_the_cache_is_gone() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    struct ReadsOnDrop(Tracker, mpsc::Sender<u64>);
    impl Drop for ReadsOnDrop {
        fn drop(&mut self) {
            let _ = self.1.send(self.0.generation("g", "t", 0));
        }
    }
    thread_local! {
        static GUARD: std::cell::RefCell<Option<ReadsOnDrop>> = const { std::cell::RefCell::new(None) };
    }
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    g.assigned([("t", 0)]).unwrap();
    let (tx, rx) = mpsc::channel();
    let t2 = t.clone();
    std::thread::spawn(move || {
        // Registered before the read cache, so destroyed after it.
        GUARD.with(|s| *s.borrow_mut() = Some(ReadsOnDrop(t2.clone(), tx)));
        assert_eq!(t2.generation("g", "t", 0), 1);
        drop(t2);
    })
    .join()
    .unwrap();
    // Whatever the order of destruction, the answer is right.
    assert_eq!(rx.recv().unwrap(), 1);
    g.revoked([("t", 0)]).unwrap();
    g.assigned([("t", 0)]).unwrap();
    assert_eq!(t.generation("g", "t", 0), 2);
}
