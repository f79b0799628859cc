//! The path parameters of a matched route (`{id}`, `{uid}`, `{*path}`), by name, raw (not
//! percent-decoded: ids are integers and the static-file front end decodes its own path).

/// The path parameters of a matched route.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Builds the set from `(name, value)` pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The raw value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
