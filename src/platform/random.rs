//! Cryptographically secure random bytes from `crypto.getRandomValues`.

use super::{js_error, window, JsError};

pub fn fill(bytes: &mut [u8]) -> Result<(), JsError> {
    // getRandomValues refuses more than 65,536 bytes per call.
    for chunk in bytes.chunks_mut(65_536) {
        window()?
            .crypto()
            .map_err(js_error)?
            .get_random_values_with_u8_array(chunk)
            .map_err(js_error)?;
    }
    Ok(())
}
