//! Child map for tree nodes: a short vector while small, a hash map when wide.
//!
//! Most nodes have a handful of children, where a linear scan of short strings beats hashing with
//! SipHash. Wide nodes (e.g. `devices/{id}` with thousands of ids) switch to a `HashMap`, which
//! keeps SipHash's randomisation because level names are attacker-controlled. Wide maps box
//! their nodes: a hash map keeps spare slots, and a slot then costs a pointer, not a node.

use std::collections::HashMap;
use std::collections::hash_map;
use std::slice;

/// Above this many children a node switches to a hash map.
const SMALL_MAX: usize = 8;
/// A map that shrinks to this many children goes back to a vector.
const SHRINK_AT: usize = SMALL_MAX / 2;

#[derive(Debug)]
pub(crate) enum Children<N> {
    Small(Vec<(Box<str>, N)>),
    Map(HashMap<Box<str>, Box<N>>),
}

impl<N> Default for Children<N> {
    fn default() -> Self {
        Children::Small(Vec::new())
    }
}

impl<N> Children<N> {
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Children::Small(v) => v.is_empty(),
            Children::Map(m) => m.is_empty(),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&N> {
        match self {
            Children::Small(v) => v.iter().find(|(k, _)| **k == *name).map(|(_, n)| n),
            Children::Map(m) => m.get(name).map(|n| &**n),
        }
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut N> {
        match self {
            Children::Small(v) => v.iter_mut().find(|(k, _)| **k == *name).map(|(_, n)| n),
            Children::Map(m) => m.get_mut(name).map(|n| &mut **n),
        }
    }

    pub(crate) fn get_or_insert_with(&mut self, name: &str, make: impl FnOnce() -> N) -> &mut N {
        if let Children::Small(v) = self
            && v.len() >= SMALL_MAX
            && !v.iter().any(|(k, _)| **k == *name)
        {
            let map = std::mem::take(v)
                .into_iter()
                .map(|(k, n)| (k, Box::new(n)))
                .collect();
            *self = Children::Map(map);
        }
        match self {
            Children::Small(v) => {
                let index = match v.iter().position(|(k, _)| **k == *name) {
                    Some(i) => i,
                    None => {
                        v.push((name.into(), make()));
                        v.len() - 1
                    }
                };
                &mut v[index].1
            }
            Children::Map(m) => m.entry(name.into()).or_insert_with(|| Box::new(make())),
        }
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<N> {
        match self {
            Children::Small(v) => {
                let index = v.iter().position(|(k, _)| **k == *name)?;
                Some(v.swap_remove(index).1)
            }
            Children::Map(m) => {
                let removed = m.remove(name).map(|n| *n);
                if m.len() <= SHRINK_AT {
                    let small = std::mem::take(m)
                        .into_iter()
                        .map(|(k, n)| (k, *n))
                        .collect();
                    *self = Children::Small(small);
                }
                removed
            }
        }
    }

    pub(crate) fn iter(&self) -> ChildIter<'_, N> {
        match self {
            Children::Small(v) => ChildIter::Small(v.iter()),
            Children::Map(m) => ChildIter::Map(m.iter()),
        }
    }
}

/// Iterator over `(level name, child)` pairs in unspecified order.
#[derive(Debug)]
pub(crate) enum ChildIter<'a, N> {
    Small(slice::Iter<'a, (Box<str>, N)>),
    Map(hash_map::Iter<'a, Box<str>, Box<N>>),
}

impl<'a, N> Iterator for ChildIter<'a, N> {
    type Item = (&'a str, &'a N);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            ChildIter::Small(it) => it.next().map(|(k, n)| (&**k, n)),
            ChildIter::Map(it) => it.next().map(|(k, n)| (&**k, &**n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_into_map_and_shrinks_back() {
        let mut c: Children<usize> = Children::default();
        for i in 0..20 {
            *c.get_or_insert_with(&i.to_string(), || 0) += i;
            *c.get_or_insert_with(&i.to_string(), || 100) += 1;
        }
        assert!(matches!(c, Children::Map(_)));
        for i in 0..20 {
            assert_eq!(c.get(&i.to_string()), Some(&(i + 1)));
        }
        assert_eq!(c.iter().count(), 20);
        for i in 0..20 {
            assert_eq!(c.remove(&i.to_string()), Some(i + 1));
            assert_eq!(c.remove(&i.to_string()), None);
        }
        assert!(matches!(c, Children::Small(_)));
        assert!(c.is_empty());
    }
}
