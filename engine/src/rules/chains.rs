//! Transformation chains by id. Equal chains share an id, and so do a chain's tails: a chain
//! whose first transformations leave a value as it is does to that value what its tail does, so
//! the value's scan after the chain is the tail's. CRS's `t:urlDecodeUni,…,t:removeWhitespace`
//! chains all come down to `t:removeWhitespace` for an API field of plain words, and share one
//! scan of it.

use std::collections::HashMap;

use super::prefilter::{self, Presence, Trigger};
use crate::seclang::transformations::Transformation;

/// One chain: its id, its transformations and what makes it change a value.
#[derive(Debug, Clone, Copy)]
pub struct Chain<'c> {
    /// The chain's id (equal chains have equal ids).
    pub id: u32,
    /// Its transformations, in order.
    pub transformations: &'c [Transformation],
    /// What makes it change a value.
    pub trigger: &'c Trigger,
}

/// Every chain of a rule set, with its tails.
#[derive(Debug, Default)]
pub struct Chains {
    ids: HashMap<Vec<Transformation>, u32>,
    lists: Vec<Vec<Transformation>>,
    triggers: Vec<Trigger>,
    /// Per chain, per position `k`: the trigger of its transformations up to `k` and the id of
    /// its tail from `k`.
    heads: Vec<Vec<(Trigger, u32)>>,
}

impl Chains {
    /// The id of `chain`, given one (with its tails) on first sight.
    pub fn intern(&mut self, chain: &[Transformation]) -> u32 {
        if let Some(&id) = self.ids.get(chain) {
            return id;
        }
        let tails: Vec<u32> = (1..chain.len()).map(|k| self.intern(&chain[k..])).collect();
        let id = self.lists.len() as u32;
        let heads = (0..chain.len())
            .map(|k| {
                let tail = if k == 0 { id } else { tails[k - 1] };
                (prefilter::chain_trigger(&chain[..=k]), tail)
            })
            .collect();
        self.ids.insert(chain.to_vec(), id);
        self.lists.push(chain.to_vec());
        self.triggers.push(prefilter::chain_trigger(chain));
        self.heads.push(heads);
        id
    }

    /// The chain with id `id`.
    pub fn get(&self, id: u32) -> Chain<'_> {
        let at = id as usize;
        Chain {
            id,
            transformations: &self.lists[at],
            trigger: &self.triggers[at],
        }
    }

    /// What makes chain `id` change a value.
    pub fn trigger(&self, id: u32) -> &Trigger {
        &self.triggers[id as usize]
    }

    /// The chain that does what chain `id` does to every value holding no more than `presence`
    /// holds (a group's values, with the group's presence): its tail from the first
    /// transformation that may change such a value, or the whole chain.
    pub fn effective(&self, id: u32, presence: &Presence) -> Chain<'_> {
        let tail = self.heads[id as usize]
            .iter()
            .find(|(head, _)| !head.leaves_unchanged(presence))
            .map_or(id, |&(_, tail)| tail);
        self.get(tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::transformations::apply_chain as apply;
    use Transformation as T;

    /// CRS's whitespace-removing chains share their tail for plain words with spaces, and each
    /// value comes out of a chain as out of its effective tail.
    #[test]
    fn chains_that_differ_only_in_what_a_value_lacks_share_a_tail() {
        let mut chains = Chains::default();
        let xss = [
            T::Utf8ToUnicode,
            T::UrlDecodeUni,
            T::HtmlEntityDecode,
            T::JsDecode,
            T::CssDecode,
            T::RemoveNulls,
            T::RemoveWhitespace,
        ];
        let sql = [T::UrlDecodeUni, T::RemoveWhitespace];
        let cmd = [T::UrlDecodeUni, T::ReplaceComments, T::RemoveWhitespace];
        let lower = [T::Lowercase, T::HtmlEntityDecode, T::RemoveWhitespace];
        let ids = [&xss[..], &sql, &cmd, &lower].map(|c| chains.intern(c));
        assert_eq!(chains.intern(&sql), ids[1], "equal chains, equal ids");
        let plain = Presence::of(b"blue cotton shirt");
        let tails: Vec<u32> = ids
            .iter()
            .map(|&id| chains.effective(id, &plain).id)
            .collect();
        assert_eq!(
            tails,
            vec![tails[0]; 4],
            "all come down to t:removeWhitespace"
        );
        assert_eq!(chains.get(tails[0]).transformations, &[T::RemoveWhitespace]);
        // Capitals keep the lower-casing head; an encoded byte keeps the decoding head.
        let capital = Presence::of(b"Blue cotton");
        assert_eq!(chains.effective(ids[3], &capital).id, ids[3]);
        assert_eq!(chains.effective(ids[0], &capital).id, tails[0]);
        let encoded = Presence::of(b"blue%20cotton");
        assert_eq!(chains.effective(ids[1], &encoded).id, ids[1]);
        for value in [
            &b"blue cotton shirt"[..],
            b"Blue cotton",
            b"blue%20cotton",
            b"&LT;b&gt; x",
            b"a\\u0041 b",
            b"a/*x*/ b",
            b"SKU-00001",
        ] {
            let p = Presence::of(value);
            for (&id, chain) in ids.iter().zip([&xss[..], &sql, &cmd, &lower]) {
                let tail = chains.effective(id, &p);
                assert_eq!(
                    apply(tail.transformations, value),
                    apply(chain, value),
                    "{value:?} through chain {id}"
                );
            }
        }
    }
}
