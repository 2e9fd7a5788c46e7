use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

/// How many states of one file are remembered: enough for a branch switch and back, or an edit and its undo.
const STATES_PER_FILE: usize = 4;

/// The remembered states of one file, oldest first.
type FileStates<K, V> = VecDeque<(K, Arc<V>)>;

/// A few recent values per file, each under the key of the file state it was computed for.
pub(crate) struct StateCache<K, V> {
    entries: Mutex<HashMap<PathBuf, FileStates<K, V>>>,
}

impl<K: Eq + Hash + Clone, V> StateCache<K, V> {
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, path: &std::path::Path, key: &K) -> Option<Arc<V>> {
        let entries = self.entries.lock();
        entries
            .get(path)?
            .iter()
            .find(|(cached, _)| cached == key)
            .map(|(_, value)| Arc::clone(value))
    }

    /// Stores `value` unless another thread stored one for the same state first; returns the stored one,
    /// so every caller of one state shares one Arc.
    pub fn insert(&self, path: &std::path::Path, key: K, value: Arc<V>) -> Arc<V> {
        let mut entries = self.entries.lock();
        let states = entries.entry(path.to_path_buf()).or_default();
        if let Some((_, existing)) = states.iter().find(|(cached, _)| *cached == key) {
            return Arc::clone(existing);
        }
        if states.len() == STATES_PER_FILE {
            states.pop_front();
        }
        states.push_back((key, Arc::clone(&value)));
        value
    }
}
