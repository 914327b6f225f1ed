//! Identifiers. Each is a newtype so a run id can never be passed where a grade id belongs.

use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// One attempt-independent run of an agent on a task (`run-<uuid>`).
    RunId
);
string_id!(
    /// One grading of a run's patch (`grade-<uuid>`).
    GradeId
);
string_id!(
    /// A Bittensor hotkey in SS58 form. Signature checks arrive with the chain client.
    Hotkey
);
