//! Loading the encoders the settings name.

use std::path::Path;

use super::Settings;
use crate::model::ModelError;

impl Settings {
    /// Loads the sentence encoder: `model_dir`, plus `chinese_model_dir` for Chinese when it
    /// is set and installed (a missing folder is a warning: an English-only deployment does
    /// not need it; a broken one is an error, like a broken main model).
    pub fn load_encoder(&self) -> Result<crate::model::Encoder, ModelError> {
        self.load_encoder_from(&self.model_dir)
    }

    /// [`Settings::load_encoder`] with the English model in `dir` (a fine-tuned copy).
    pub fn load_encoder_from(&self, dir: &Path) -> Result<crate::model::Encoder, ModelError> {
        let encoder = crate::model::Encoder::load_with(dir, self.encoder_backend)?;
        let dir = &self.chinese_model_dir;
        if dir.as_os_str().is_empty() {
            Ok(encoder)
        } else if !dir.is_dir() {
            tracing::warn!(
                dir = %dir.display(),
                "no Chinese model: Chinese messages are read by their wording only; {}",
                crate::model::FETCH_HINT
            );
            Ok(encoder)
        } else {
            encoder.with_chinese(dir)
        }
    }
}
