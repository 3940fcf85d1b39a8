//! Counts that cannot be real never make kat reserve memory by them: an
//! iterator that claims far more elements than it yields (or than memory
//! could hold) is read element by element.

use kat::Tracker;

/// Yields `items` but claims `claim` elements in its size hint.
struct Liar<'a> {
    items: std::vec::IntoIter<(&'a str, i32)>,
    claim: usize,
}

impl<'a> Iterator for Liar<'a> {
    type Item = (&'a str, i32);
    fn next(&mut self) -> Option<Self::Item> {
        self.items.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.claim, None)
    }
}

fn liar(items: Vec<(&str, i32)>, claim: usize) -> Liar<'_> {
    Liar {
        items: items.into_iter(),
        claim,
    }
}

#[test]
fn an_iterator_claiming_an_impossible_length_is_read_as_it_is() {
    let t = Tracker::new();
    let g = t.group("billing").expect("group");
    // Reserving 2^60 partitions would be an allocation failure (an abort).
    assert!(g
        .assigned(liar(vec![("orders", 0), ("orders", 1)], 1 << 60))
        .expect("assigned"));
    assert_eq!(g.generation("orders", 0), 1);
    assert_eq!(g.generation("orders", 1), 1);
    assert!(g
        .revoked(liar(vec![("orders", 1)], usize::MAX))
        .expect("revoked"));
    assert!(!g.is_assigned("orders", 1));
    assert!(g
        .replace(liar(vec![("payments", 3)], usize::MAX))
        .expect("replace"));
    assert!(g.is_assigned("payments", 3));
    assert!(!g.is_assigned("orders", 0));
    // A bad element in a lying list is still found, and changes nothing.
    let epoch = t.epoch();
    let err = g
        .assigned(liar(vec![("payments", 4), ("payments", -1)], usize::MAX))
        .expect_err("negative partition");
    assert_eq!(err.element(), Some(1));
    assert_eq!(t.epoch(), epoch);
}
