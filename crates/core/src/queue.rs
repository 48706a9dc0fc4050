//! A FIFO that holds no memory while empty: one pointer inline, its storage
//! allocated on the first push and freed when the last item leaves. A
//! handle has several queues (writes, completions, received fds, and the
//! addon's request references) that are empty for most of its life; with
//! thousands of idle connections, what they keep while empty is what counts.
//! Most of the time a queue that is not empty holds one item (one request
//! in flight): that takes one allocation, the item's box, and a second item
//! moves them all into a `VecDeque` in the same box.

use std::collections::VecDeque;

pub struct Queue<T>(Option<Box<Storage<T>>>);

enum Storage<T> {
  One(T),
  Many(VecDeque<T>),
}

impl<T> Storage<T> {
  fn as_slices(&self) -> (&[T], &[T]) {
    match self {
      Storage::One(item) => (std::slice::from_ref(item), &[]),
      Storage::Many(q) => q.as_slices(),
    }
  }

  fn as_mut_slices(&mut self) -> (&mut [T], &mut [T]) {
    match self {
      Storage::One(item) => (std::slice::from_mut(item), &mut []),
      Storage::Many(q) => q.as_mut_slices(),
    }
  }

  /// The items as a `VecDeque` (moving a single one into a new one).
  fn many(&mut self) -> &mut VecDeque<T> {
    if let Storage::One(_) = self {
      let Storage::One(item) = std::mem::replace(self, Storage::Many(VecDeque::with_capacity(4)))
      else {
        unreachable!("matched One above");
      };
      if let Storage::Many(q) = self {
        q.push_back(item);
      }
    }
    match self {
      Storage::Many(q) => q,
      Storage::One(_) => unreachable!("made Many above"),
    }
  }
}

impl<T> Default for Queue<T> {
  fn default() -> Self {
    Queue(None)
  }
}

impl<T> Queue<T> {
  pub const fn new() -> Self {
    Queue(None)
  }

  pub fn is_empty(&self) -> bool {
    self.0.is_none()
  }

  pub fn len(&self) -> usize {
    match self.0.as_deref() {
      None => 0,
      Some(Storage::One(_)) => 1,
      Some(Storage::Many(q)) => q.len(),
    }
  }

  /// Frees the storage once nothing is left in it.
  fn release_if_empty(&mut self) {
    if matches!(self.0.as_deref(), Some(Storage::Many(q)) if q.is_empty()) {
      self.0 = None;
    }
  }

  pub fn push_back(&mut self, item: T) {
    match &mut self.0 {
      None => self.0 = Some(Box::new(Storage::One(item))),
      Some(s) => s.many().push_back(item),
    }
  }

  pub fn push_front(&mut self, item: T) {
    match &mut self.0 {
      None => self.0 = Some(Box::new(Storage::One(item))),
      Some(s) => s.many().push_front(item),
    }
  }

  pub fn pop_front(&mut self) -> Option<T> {
    match self.0.as_deref_mut()? {
      Storage::One(_) => match *self.0.take()? {
        Storage::One(item) => Some(item),
        Storage::Many(_) => unreachable!("matched One above"),
      },
      Storage::Many(q) => {
        let item = q.pop_front();
        self.release_if_empty();
        item
      }
    }
  }

  pub fn front(&self) -> Option<&T> {
    let (a, b) = self.0.as_deref()?.as_slices();
    a.first().or(b.first())
  }

  pub fn front_mut(&mut self) -> Option<&mut T> {
    let (a, b) = self.0.as_deref_mut()?.as_mut_slices();
    a.first_mut().or(b.first_mut())
  }

  pub fn back(&self) -> Option<&T> {
    let (a, b) = self.0.as_deref()?.as_slices();
    b.last().or(a.last())
  }

  pub fn remove(&mut self, index: usize) -> Option<T> {
    match self.0.as_deref_mut()? {
      Storage::One(_) if index == 0 => self.pop_front(),
      Storage::One(_) => None,
      Storage::Many(q) => {
        let item = q.remove(index);
        self.release_if_empty();
        item
      }
    }
  }

  pub fn iter(&self) -> impl Iterator<Item = &T> {
    let (a, b) = self
      .0
      .as_deref()
      .map_or((&[][..], &[][..]), Storage::as_slices);
    a.iter().chain(b.iter())
  }

  pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
    let (a, b) = match self.0.as_deref_mut() {
      Some(s) => s.as_mut_slices(),
      None => (&mut [][..], &mut [][..]),
    };
    a.iter_mut().chain(b.iter_mut())
  }

  /// Everything, in order; the queue is left empty (and holds nothing).
  pub fn take_all(&mut self) -> impl Iterator<Item = T> {
    let (one, many) = match self.0.take().map(|s| *s) {
      None => (None, VecDeque::new()),
      Some(Storage::One(item)) => (Some(item), VecDeque::new()),
      Some(Storage::Many(q)) => (None, q),
    };
    one.into_iter().chain(many)
  }

  pub fn clear(&mut self) {
    self.0 = None;
  }

  pub fn extend(&mut self, items: impl IntoIterator<Item = T>) {
    for item in items {
      self.push_back(item);
    }
  }
}

#[cfg(test)]
mod tests {
  use super::Queue;

  #[test]
  fn holds_nothing_while_empty_and_keeps_order() {
    let mut q = Queue::new();
    assert!(q.is_empty() && q.0.is_none());
    q.push_back(2);
    assert!(
      matches!(q.0.as_deref(), Some(super::Storage::One(2))),
      "one item, one box"
    );
    assert_eq!((q.front(), q.back(), q.len()), (Some(&2), Some(&2), 1));
    q.push_back(3);
    q.push_front(1);
    q.extend(std::iter::empty());
    q.extend([4, 5]);
    assert_eq!(q.len(), 5);
    assert_eq!(q.iter().copied().collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!(q.remove(1), Some(2));
    assert_eq!(q.back(), Some(&5));
    for x in q.iter_mut() {
      *x += 10;
    }
    *q.front_mut().unwrap() = 10;
    assert_eq!(q.pop_front(), Some(10));
    assert_eq!(q.take_all().collect::<Vec<_>>(), [13, 14, 15]);
    assert_eq!(q.back(), None);
    assert!(q.0.is_none(), "storage kept after take_all");
    q.push_back(7);
    assert_eq!(q.pop_front(), Some(7));
    assert!(q.0.is_none(), "storage kept after the last pop");
    assert_eq!(q.pop_front(), None);
    assert_eq!(q.remove(0), None);
    q.push_back(9);
    assert_eq!(q.remove(1), None);
    *q.front_mut().unwrap() += 1;
    assert_eq!(q.iter().collect::<Vec<_>>(), [&10]);
    assert_eq!(q.remove(0), Some(10));
    assert!(q.0.is_none(), "storage kept after removing the only item");
    q.push_front(11);
    assert_eq!(q.take_all().collect::<Vec<_>>(), [11]);
    assert!(q.0.is_none());
    q.extend([8]);
    q.clear();
    assert!(q.is_empty());
    assert_eq!(q.len(), 0);
  }
}
