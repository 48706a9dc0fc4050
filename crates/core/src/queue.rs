//! A FIFO that holds no memory while empty: one pointer inline, its storage
//! allocated on the first push and freed when the last item leaves. A
//! handle has several queues (writes, completions, received fds, and the
//! addon's request references) that are empty for most of its life; with
//! thousands of idle connections, what they keep while empty is what counts.

use std::collections::VecDeque;

// Boxed on purpose: 8 bytes inline instead of a VecDeque's 32.
#[allow(clippy::box_collection)]
pub struct Queue<T>(Option<Box<VecDeque<T>>>);

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
    self.0.as_ref().map_or(0, |q| q.len())
  }

  fn storage(&mut self) -> &mut VecDeque<T> {
    self
      .0
      .get_or_insert_with(|| Box::new(VecDeque::with_capacity(4)))
  }

  /// Frees the storage once nothing is left in it.
  fn release_if_empty(&mut self) {
    if self.0.as_ref().is_some_and(|q| q.is_empty()) {
      self.0 = None;
    }
  }

  pub fn push_back(&mut self, item: T) {
    self.storage().push_back(item);
  }

  pub fn push_front(&mut self, item: T) {
    self.storage().push_front(item);
  }

  pub fn pop_front(&mut self) -> Option<T> {
    let item = self.0.as_mut()?.pop_front();
    self.release_if_empty();
    item
  }

  pub fn front(&self) -> Option<&T> {
    self.0.as_ref()?.front()
  }

  pub fn front_mut(&mut self) -> Option<&mut T> {
    self.0.as_mut()?.front_mut()
  }

  pub fn back(&self) -> Option<&T> {
    self.0.as_ref()?.back()
  }

  pub fn remove(&mut self, index: usize) -> Option<T> {
    let item = self.0.as_mut()?.remove(index);
    self.release_if_empty();
    item
  }

  pub fn iter(&self) -> impl Iterator<Item = &T> {
    self.0.iter().flat_map(|q| q.iter())
  }

  pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
    self.0.iter_mut().flat_map(|q| q.iter_mut())
  }

  /// Everything, in order; the queue is left empty (and holds nothing).
  pub fn take_all(&mut self) -> impl Iterator<Item = T> {
    self.0.take().into_iter().flat_map(|q| *q)
  }

  pub fn clear(&mut self) {
    self.0 = None;
  }

  pub fn extend(&mut self, items: impl IntoIterator<Item = T>) {
    let mut items = items.into_iter().peekable();
    if items.peek().is_some() {
      self.storage().extend(items);
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
    q.extend([8]);
    q.clear();
    assert!(q.is_empty());
    assert_eq!(q.len(), 0);
  }
}
