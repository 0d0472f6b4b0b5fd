//! The operations `SimIO` holds pending, by id, in ascending id order.
//!
//! Ids are handed out in increasing order, so a submission appends at the end. A few tens
//! of operations are pending at a time, so a vector searched by binary search (and shifted
//! on removal) costs less than an ordered map's node walks, and listing the operations at
//! every decision is one pass over contiguous memory. Iteration order is ascending id, as
//! an ordered map's would be: the scheduler sees operations in submission order.

/// Pending operations of type `T` (`state::Pending`) by id, ascending.
pub(crate) struct PendingOps<T> {
    ops: Vec<(u64, T)>,
}

impl<T> Default for PendingOps<T> {
    fn default() -> Self {
        PendingOps { ops: Vec::new() }
    }
}

impl<T> PendingOps<T> {
    fn position(&self, id: u64) -> Result<usize, usize> {
        self.ops.binary_search_by_key(&id, |(op_id, _)| *op_id)
    }

    /// Adds operation `id`, which must not be pending already.
    pub(crate) fn insert(&mut self, id: u64, op: T) {
        if self.ops.last().is_none_or(|(last, _)| *last < id) {
            self.ops.push((id, op));
            return;
        }
        let at = self
            .position(id)
            .expect_err("an operation id is submitted once");
        self.ops.insert(at, (id, op));
    }

    /// Operation `id`, if pending.
    pub(crate) fn get(&self, id: &u64) -> Option<&T> {
        let at = self.position(*id).ok()?;
        Some(&self.ops[at].1)
    }

    /// Operation `id`, if pending, to change.
    pub(crate) fn get_mut(&mut self, id: &u64) -> Option<&mut T> {
        let at = self.position(*id).ok()?;
        Some(&mut self.ops[at].1)
    }

    /// Takes operation `id` out, if pending.
    pub(crate) fn remove(&mut self, id: &u64) -> Option<T> {
        let at = self.position(*id).ok()?;
        Some(self.ops.remove(at).1)
    }

    /// Keeps only the operations for which `keep` is true, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&u64, &mut T) -> bool) {
        self.ops.retain_mut(|(id, op)| keep(id, op));
    }

    /// The operations, ascending by id.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&u64, &T)> {
        self.ops.iter().map(|(id, op)| (id, op))
    }

    /// The ids, ascending.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &u64> {
        self.ops.iter().map(|(id, _)| id)
    }

    /// How many operations are pending.
    pub(crate) fn len(&self) -> usize {
        self.ops.len()
    }

    /// Forgets every operation.
    pub(crate) fn clear(&mut self) {
        self.ops.clear();
    }
}

impl<'a, T> IntoIterator for &'a PendingOps<T> {
    type Item = (&'a u64, &'a T);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (u64, T)>, fn(&'a (u64, T)) -> (&'a u64, &'a T)>;

    fn into_iter(self) -> Self::IntoIter {
        self.ops.iter().map(|(id, op)| (id, op))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A tiny deterministic generator (xorshift64*).
    fn next(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    #[test]
    fn behaves_as_an_ordered_map_under_random_operations() {
        let mut ops: PendingOps<u64> = PendingOps::default();
        let mut model: BTreeMap<u64, u64> = BTreeMap::new();
        let mut rng = 7;
        let mut next_id = 0;
        for round in 0..5_000u64 {
            match next(&mut rng) % 6 {
                0 | 1 => {
                    ops.insert(next_id, round);
                    model.insert(next_id, round);
                    next_id += 1;
                }
                2 => {
                    let id = next(&mut rng) % (next_id + 1);
                    assert_eq!(ops.remove(&id), model.remove(&id), "remove {id}");
                }
                3 => {
                    let id = next(&mut rng) % (next_id + 1);
                    if let Some(op) = ops.get_mut(&id) {
                        *op += 1;
                    }
                    if let Some(op) = model.get_mut(&id) {
                        *op += 1;
                    }
                }
                4 => {
                    let cut = next(&mut rng) % 7;
                    ops.retain(|id, op| (id + *op) % 7 != cut);
                    model.retain(|id, op| (id + *op) % 7 != cut);
                }
                _ => {
                    // An id that went out of order (a removed one put back).
                    let id = next(&mut rng) % (next_id + 1);
                    if !model.contains_key(&id) && id < next_id {
                        ops.insert(id, round);
                        model.insert(id, round);
                    }
                }
            }
            let listed: Vec<(u64, u64)> = ops.iter().map(|(id, op)| (*id, *op)).collect();
            let expected: Vec<(u64, u64)> = model.iter().map(|(id, op)| (*id, *op)).collect();
            assert_eq!(listed, expected, "round {round}");
            assert_eq!(ops.len(), model.len());
            assert_eq!(ops.keys().next(), model.keys().next());
            let probe = next(&mut rng) % (next_id + 1);
            assert_eq!(ops.get(&probe), model.get(&probe));
        }
        ops.clear();
        assert_eq!(ops.len(), 0);
    }
}
