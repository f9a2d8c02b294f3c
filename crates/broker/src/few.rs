//! A list that holds its first item without allocating, for what every publish builds and
//! that usually has one item: the taps a message matches, the sessions it goes to. A
//! vector would cost an allocation and a free per message.

/// The first item inline, any others in a vector.
#[derive(Debug)]
pub(crate) struct Few<T> {
    first: Option<T>,
    more: Vec<T>,
}

impl<T> Default for Few<T> {
    fn default() -> Self {
        Few {
            first: None,
            more: Vec::new(),
        }
    }
}

impl<T> Few<T> {
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub fn clear(&mut self) {
        self.first = None;
        self.more.clear();
    }

    pub fn push(&mut self, item: T) {
        match self.first {
            None => self.first = Some(item),
            Some(_) => self.more.push(item),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.first.iter().chain(&self.more)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.first.iter_mut().chain(&mut self.more)
    }
}

impl<T> IntoIterator for Few<T> {
    type Item = T;
    type IntoIter = std::iter::Chain<std::option::IntoIter<T>, std::vec::IntoIter<T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.more)
    }
}

#[cfg(test)]
mod tests {
    use super::Few;

    #[test]
    fn keeps_order_and_clears() {
        let mut few = Few::default();
        assert!(few.is_empty());
        for i in 0..4 {
            few.push(i);
        }
        few.iter_mut().for_each(|i| *i *= 10);
        assert_eq!(few.iter().copied().collect::<Vec<_>>(), [0, 10, 20, 30]);
        assert_eq!(few.into_iter().collect::<Vec<_>>(), [0, 10, 20, 30]);
        let mut one = Few::default();
        one.push("a");
        one.clear();
        assert!(one.is_empty());
        one.push("b");
        assert_eq!(one.into_iter().collect::<Vec<_>>(), ["b"]);
    }
}
