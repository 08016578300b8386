//! The request context: condition keys and their values.
//!
//! Keys are case-insensitive (AWS: "Condition key names are not case-sensitive", IAM User
//! Guide, IAM JSON policy elements: Condition) and every key holds zero or more values.
//! Values are kept as text, the way policies write them: booleans as `true`/`false`,
//! numbers in their JSON form, dates as ISO 8601 or epoch seconds, binary as base64.
//! Operators parse the text they need when they compare.

/// The request context. Build it once per request; lookups do not allocate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// (lowercased key, values); few keys per request, so a linear scan beats hashing.
    entries: Vec<(String, Vec<String>)>,
}

impl Context {
    pub fn new() -> Context {
        Context::default()
    }

    /// Adds one value to `key` (keeping values already there: keys are multi-valued).
    pub fn insert(&mut self, key: &str, value: impl Into<String>) -> &mut Context {
        let v = value.into();
        match self.find_mut(key) {
            Some(vals) => vals.push(v),
            None => self.entries.push((key.to_ascii_lowercase(), vec![v])),
        }
        self
    }

    /// Sets `key` to exactly `values` (an empty list is a present key with no values).
    pub fn set<I, S>(&mut self, key: &str, values: I) -> &mut Context
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let vals: Vec<String> = values.into_iter().map(Into::into).collect();
        match self.find_mut(key) {
            Some(slot) => *slot = vals,
            None => self.entries.push((key.to_ascii_lowercase(), vals)),
        }
        self
    }

    /// Builder form of [`Context::insert`].
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Context {
        self.insert(key, value);
        self
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) {
        self.entries.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    }

    /// The values of `key`, or `None` when the key is absent from the request.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_slice())
    }

    /// Iterates over (lowercased key, values).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find_mut(&mut self, key: &str) -> Option<&mut Vec<String>> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_multi_valued() {
        let mut c = Context::new();
        c.insert("aws:PrincipalTag/Team", "dev");
        c.insert("AWS:principaltag/team", "ops");
        assert_eq!(
            c.get("aws:principaltag/TEAM"),
            Some(&["dev".to_owned(), "ops".to_owned()][..])
        );
        assert_eq!(c.get("aws:username"), None);
        c.set("aws:TagKeys", Vec::<String>::new());
        assert_eq!(c.get("aws:tagkeys"), Some(&[][..]));
    }
}
