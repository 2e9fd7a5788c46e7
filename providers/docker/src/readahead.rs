//! Which image the background loader inspects next. Its own order is the engine's image list;
//! but when readers ask for the images of that list one after the next (a `make` over images
//! built one after another asks for them in that order, or in its reverse), the loader goes just
//! ahead of them in their direction, as the kernel reads ahead of a sequential reader: then the
//! reader finds its next images already inspected instead of waiting for each in turn. Readers
//! that jump around leave the loader to its own order.

use std::collections::HashMap;

/// One pass of the background loader over the images a tree waits for.
#[derive(Debug)]
pub struct Order {
    ids: Vec<String>,
    positions: HashMap<String, usize>,
    /// Handed out to the loader, or asked for by a reader (inspected, or being inspected).
    taken: Vec<bool>,
    /// The loader's own next position (in list order).
    cursor: usize,
    /// Where the readers are going: the next position to look at ahead of them (past either
    /// end once all ahead is taken: the way is kept, so that the readers' next asks do not
    /// walk it again), and the step.
    ahead: Option<(isize, isize)>,
    /// The position a reader asked for last.
    last: Option<usize>,
}

impl Order {
    /// A pass over `ids`, in the engine's list order.
    pub fn new(ids: Vec<String>) -> Order {
        let positions = ids
            .iter()
            .enumerate()
            .map(|(position, id)| (id.clone(), position))
            .collect();
        Order {
            taken: vec![false; ids.len()],
            ids,
            positions,
            cursor: 0,
            ahead: None,
            last: None,
        }
    }

    /// A reader asks for image `id` (whether or not it still has to be inspected). Two asks for
    /// neighbours in list order set the loader's way just ahead of the second (or keep it, when
    /// it is already further that way); an ask elsewhere ends it. Asks for the same image (its
    /// tag, then its `.<id>` file) change nothing. Returns whether an image may be ahead.
    pub fn asked(&mut self, id: &str) -> bool {
        let Some(&position) = self.positions.get(id) else {
            return self.has_ahead();
        };
        self.taken[position] = true;
        if self.last == Some(position) {
            return self.has_ahead();
        }
        let step = match self.last {
            Some(last) if last + 1 == position => Some(1),
            Some(last) if position + 1 == last => Some(-1),
            _ => None,
        };
        self.last = Some(position);
        let here = position as isize;
        self.ahead = match (step, self.ahead) {
            (Some(step), Some((next, way))) if way == step && (next - here) * step > 0 => {
                Some((next, way))
            }
            (Some(step), _) => Some((here + step, step)),
            (None, _) => None,
        };
        self.has_ahead()
    }

    fn has_ahead(&self) -> bool {
        self.ahead
            .is_some_and(|(next, _)| usize::try_from(next).is_ok_and(|next| next < self.ids.len()))
    }

    /// The image just ahead of readers walking the list, if they are.
    pub fn next_ahead(&mut self) -> Option<String> {
        while self.has_ahead() {
            let (next, step) = self.ahead?;
            self.ahead = Some((next + step, step));
            let position = usize::try_from(next).ok()?;
            if !self.taken[position] {
                return Some(self.take(position));
            }
        }
        None
    }

    /// The image the loader inspects next (ahead of the readers, else in its own order),
    /// `None` once every image is taken.
    pub fn next(&mut self) -> Option<String> {
        if let Some(id) = self.next_ahead() {
            return Some(id);
        }
        while self.cursor < self.ids.len() {
            let position = self.cursor;
            self.cursor += 1;
            if !self.taken[position] {
                return Some(self.take(position));
            }
        }
        None
    }

    fn take(&mut self, position: usize) -> String {
        self.taken[position] = true;
        self.ids[position].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(count: usize) -> Order {
        Order::new((0..count).map(|n| format!("i{n}")).collect())
    }

    fn drain(order: &mut Order) -> Vec<String> {
        std::iter::from_fn(|| order.next()).collect()
    }

    #[test]
    fn alone_the_loader_goes_the_list_order_once_each() {
        let mut order = order(4);
        assert_eq!(drain(&mut order), ["i0", "i1", "i2", "i3"]);
        assert_eq!(order.next(), None);
    }

    #[test]
    fn readers_walking_the_list_backwards_are_read_ahead_of() {
        let mut order = order(10);
        assert_eq!(order.next().as_deref(), Some("i0"));
        order.asked("i9");
        assert_eq!(
            order.next().as_deref(),
            Some("i1"),
            "one ask is no direction"
        );
        order.asked("i8");
        assert_eq!(order.next().as_deref(), Some("i7"));
        assert_eq!(order.next().as_deref(), Some("i6"));
        // The reader found i7 and i6 inspected and asks on; the loader stays ahead.
        order.asked("i7");
        assert_eq!(order.next().as_deref(), Some("i5"));
        order.asked("i6");
        assert_eq!(order.next().as_deref(), Some("i4"));
        assert_eq!(order.next().as_deref(), Some("i3"));
        assert_eq!(order.next().as_deref(), Some("i2"));
        // i1 and i0 are taken: back to the loader's own order, which has nothing left.
        assert_eq!(order.next(), None);
    }

    #[test]
    fn readers_walking_the_list_forwards_are_read_ahead_of() {
        let mut order = order(10);
        order.asked("i3");
        order.asked("i4");
        assert_eq!(
            drain(&mut order),
            ["i5", "i6", "i7", "i8", "i9", "i0", "i1", "i2"]
        );
    }

    #[test]
    fn only_readers_walking_the_list_have_images_ahead() {
        let mut order = order(6);
        assert!(!order.asked("i2"));
        assert_eq!(order.next_ahead(), None, "one ask is no direction");
        assert!(order.asked("i3"));
        assert_eq!(order.next_ahead().as_deref(), Some("i4"));
        assert_eq!(order.next_ahead().as_deref(), Some("i5"));
        assert_eq!(order.next_ahead(), None, "the end of the list");
        assert_eq!(
            order.next().as_deref(),
            Some("i0"),
            "the loader's own order"
        );
    }

    #[test]
    fn a_reader_behind_the_way_ahead_keeps_it_and_a_turn_sets_a_new_one() {
        let mut order = order(10);
        order.asked("i1");
        order.asked("i2");
        assert_eq!(order.next_ahead().as_deref(), Some("i3"));
        assert_eq!(order.next_ahead().as_deref(), Some("i4"));
        assert!(order.asked("i3"), "behind the way: kept");
        assert_eq!(order.next_ahead().as_deref(), Some("i5"));
        order.asked("i4");
        order.asked("i3");
        assert_eq!(
            order.next_ahead().as_deref(),
            Some("i0"),
            "turned: just below i3"
        );
    }

    #[test]
    fn a_jump_ends_the_read_ahead_and_the_same_image_twice_changes_nothing() {
        let mut order = order(10);
        order.asked("i3");
        order.asked("i3");
        assert_eq!(order.next().as_deref(), Some("i0"));
        order.asked("i4");
        assert_eq!(order.next().as_deref(), Some("i5"));
        order.asked("i8");
        assert_eq!(
            order.next().as_deref(),
            Some("i1"),
            "a jump: the own order again"
        );
        order.asked("unknown");
        order.asked("i9");
        assert_eq!(
            order.next().as_deref(),
            Some("i2"),
            "past the end: nothing ahead"
        );
    }
}
