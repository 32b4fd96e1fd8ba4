//! A thread's parsing buffers, handed back when a request's [`Inputs`](super::Inputs) are
//! dropped and reused by its next request: the field vector and the byte buffers of names
//! built while parsing (a JSON body's `json.order.items[0].sku`). A 10 KB JSON body has
//! hundreds of fields; without this each request allocates and frees every one of them.

use std::borrow::Cow;
use std::cell::RefCell;

use super::Field;

/// Name buffers kept per thread at most (a JSON body's fields up to the argument limit).
const KEEP_NAMES: usize = 1024;
/// Buffers with more capacity than this are freed, not kept.
const KEEP_NAME_BYTES: usize = 256;
/// A field vector with more capacity than this is freed, not kept.
const KEEP_FIELDS: usize = 4096;

thread_local! {
    static NAMES: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static FIELDS: RefCell<Vec<Field<'static>>> = const { RefCell::new(Vec::new()) };
}

/// An owned copy of `bytes`, in a buffer the thread's last request left when it has one.
pub fn owned_name<'a>(bytes: &[u8]) -> Cow<'a, [u8]> {
    let mut buffer = NAMES
        .try_with(|n| n.try_borrow_mut().ok().and_then(|mut n| n.pop()))
        .ok()
        .flatten()
        .unwrap_or_default();
    buffer.clear();
    buffer.extend_from_slice(bytes);
    Cow::Owned(buffer)
}

/// An empty field vector, with the capacity the thread's last request left.
pub fn fields<'a>() -> Vec<Field<'a>> {
    FIELDS
        .try_with(|f| f.try_borrow_mut().map(|mut f| std::mem::take(&mut *f)))
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default()
}

/// Hands back a request's fields: their owned names' buffers and the vector itself.
pub fn give_back(mut fields: Vec<Field<'_>>) {
    let _ = NAMES.try_with(|n| {
        let Ok(mut names) = n.try_borrow_mut() else {
            return;
        };
        for field in fields.drain(..) {
            if let Cow::Owned(name) = field.name {
                if names.len() < KEEP_NAMES && name.capacity() <= KEEP_NAME_BYTES {
                    names.push(name);
                }
            }
        }
    });
    if fields.capacity() > KEEP_FIELDS {
        return;
    }
    let _ = FIELDS.try_with(|f| {
        if let Ok(mut f) = f.try_borrow_mut() {
            *f = retyped(fields);
        }
    });
}

/// An empty vector of fields that borrow nothing, on the same allocation (collecting an empty
/// vector's iterator into one with the same layout reuses its buffer).
fn retyped(mut fields: Vec<Field<'_>>) -> Vec<Field<'static>> {
    fields.clear();
    fields
        .into_iter()
        .map(|f| Field {
            source: f.source,
            name: Cow::Borrowed(&[]),
            value: Cow::Borrowed(&[]),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Source;

    #[test]
    fn a_given_back_vector_and_its_name_buffers_are_reused() {
        let mut fields = fields();
        fields.reserve(100);
        let name = owned_name(b"json.order.items[0].sku");
        let name_ptr = name.as_ptr();
        fields.push(Field {
            source: Source::BodyArg,
            name,
            value: Cow::Borrowed(b"A-1"),
        });
        let ptr = fields.as_ptr() as usize;
        give_back(fields);
        let again: Vec<Field<'_>> = super::fields();
        assert!(again.is_empty());
        assert!(again.capacity() >= 100);
        assert_eq!(again.as_ptr() as usize, ptr, "the same allocation");
        let name = owned_name(b"json.id");
        assert_eq!(&name[..], b"json.id");
        assert_eq!(name.as_ptr(), name_ptr, "the same name buffer");
    }
}
