//! One byte-level edit of a frame, shared by the fuzz driver and the proptest generators.

/// Applies edit `kind` (0 truncate, 1 overwrite, 2 insert, 3 remove) at `at` (wrapped to
/// the frame's length) with `byte`.
pub(crate) fn edit(bytes: &mut Vec<u8>, kind: u8, at: u16, byte: u8) {
    let at = usize::from(at) % (bytes.len() + 1);
    match kind % 4 {
        0 => bytes.truncate(at),
        1 => {
            if let Some(b) = bytes.get_mut(at) {
                *b = byte;
            }
        }
        2 => bytes.insert(at, byte),
        _ => {
            if at < bytes.len() {
                bytes.remove(at);
            }
        }
    }
}
