//! The test pattern's time code: a row of black/white cells across the top of each frame that
//! carries the capture time, so a receiver can read glass-to-glass latency from the pixels.
//!
//! Layout (1280 px wide frames): [`CELLS`] cells of [`CELL_PX`]×[`CELL_PX`] at the top-left,
//! left to right: 8 marker cells `1 0 1 1 0 0 1 0`, 48 bits of the time in milliseconds (Unix
//! epoch, mod 2⁴⁸, most significant first), 8 check bits (XOR of the six time bytes). White = 1.
//! A reader samples the luma at each cell's centre and thresholds at mid-grey.

/// Number of cells in the time code row.
pub const CELLS: usize = 64;
/// Side of a cell in pixels (at 1280×720).
pub const CELL_PX: u32 = 20;
/// The marker that starts a valid row.
pub const MARKER: [bool; 8] = [true, false, true, true, false, false, true, false];

/// The cells for time `ms`.
pub fn encode(ms: u64) -> [bool; CELLS] {
    let mut cells = [false; CELLS];
    cells[..8].copy_from_slice(&MARKER);
    let bytes = time_bytes(ms);
    for (i, bit) in bits(&bytes).enumerate() {
        cells[8 + i] = bit;
    }
    let check = bytes.iter().fold(0u8, |acc, b| acc ^ b);
    for i in 0..8 {
        cells[56 + i] = check & (0x80 >> i) != 0;
    }
    cells
}

/// The time a row of cells carries, if marker and check agree.
pub fn decode(cells: &[bool]) -> Option<u64> {
    if cells.len() != CELLS || cells[..8] != MARKER {
        return None;
    }
    let mut ms = 0u64;
    for &bit in &cells[8..56] {
        ms = (ms << 1) | u64::from(bit);
    }
    let mut check = 0u8;
    for &bit in &cells[56..64] {
        check = (check << 1) | u8::from(bit);
    }
    let expected = time_bytes(ms).iter().fold(0u8, |acc, b| acc ^ b);
    (check == expected).then_some(ms)
}

fn time_bytes(ms: u64) -> [u8; 6] {
    let be = (ms & 0xFFFF_FFFF_FFFF).to_be_bytes();
    [be[2], be[3], be[4], be[5], be[6], be[7]]
}

fn bits(bytes: &[u8]) -> impl Iterator<Item = bool> + '_ {
    bytes
        .iter()
        .flat_map(|b| (0..8).map(move |i| b & (0x80 >> i) != 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_time_round_trips() {
        let ms = 1_795_676_029_123;
        let cells = encode(ms);
        assert_eq!(&cells[..8], &MARKER);
        assert_eq!(decode(&cells), Some(ms));
    }

    #[test]
    fn damaged_rows_are_rejected() {
        let mut cells = encode(42);
        cells[30] = !cells[30];
        assert_eq!(decode(&cells), None);
        let mut cells = encode(42);
        cells[0] = false;
        assert_eq!(decode(&cells), None);
        assert_eq!(decode(&[true; 10]), None);
    }

    proptest! {
        #[test]
        fn every_48_bit_time_round_trips(ms in 0u64..(1 << 48)) {
            prop_assert_eq!(decode(&encode(ms)), Some(ms));
        }
    }
}
