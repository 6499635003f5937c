//! The stronger classifier (`--arch strong`): placeholder while it is written.

/// Architecture name written in `model.json`.
pub const ARCH: &str = "strong";

/// Hyper-parameters of the strong ensemble, saved in `model.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StrongSpec {}
