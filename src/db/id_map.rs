//! An old → new id map, for statements that copy rows (`INSERT … SELECT … FROM
//! unnest($old, $new)`): the ids are made here, so the copying statements stay set-based and
//! the caller can still follow each copy back to its original.

use std::collections::HashMap;

use uuid::Uuid;

/// Pairs of (original, copy) ids, in the originals' order.
#[derive(Debug, Clone, Default)]
pub struct IdMap {
    old: Vec<Uuid>,
    new: Vec<Uuid>,
    index: HashMap<Uuid, Uuid>,
}

impl IdMap {
    /// A fresh (time-ordered) id for each original.
    pub fn fresh(old: Vec<Uuid>) -> Self {
        let new = old.iter().map(|_| Uuid::now_v7()).collect();
        Self::of(old, new)
    }

    /// These pairs (`old` and `new` of the same length).
    pub fn of(old: Vec<Uuid>, new: Vec<Uuid>) -> Self {
        debug_assert_eq!(old.len(), new.len());
        let index = old.iter().copied().zip(new.iter().copied()).collect();
        Self { old, new, index }
    }

    pub fn old(&self) -> &[Uuid] {
        &self.old
    }

    pub fn new_ids(&self) -> &[Uuid] {
        &self.new
    }

    pub fn get(&self, old: Uuid) -> Option<Uuid> {
        self.index.get(&old).copied()
    }

    pub fn len(&self) -> usize {
        self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.old.is_empty()
    }
}
