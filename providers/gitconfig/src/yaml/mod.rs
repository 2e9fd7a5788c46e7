//! YAML files as trees of sections: parsing, what each folder holds, and section times.

pub mod meaning;
pub mod parse;
pub mod timing;
pub mod view;

pub use parse::{parse, Limits, LineRange, NodeId, YamlError, YamlFile};
pub use timing::{SectionTimes, SourceLines};
pub use view::{children, scalar_text, top_entries, Entry};
