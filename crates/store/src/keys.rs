//! Order-preserving tuple encoding of keys.

/// The smallest key greater than every key starting with `prefix`; empty when none exists
/// (the prefix is all 0xFF bytes), meaning "unbounded".
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    end
}
