//! The byte format of a list-append value: the list's elements in order, each an unsigned
//! LEB128 varint (7 bits per byte, low bits first, high bit set on every byte but the
//! last). The empty list is the empty value; a missing key reads as the empty list.
//! Elements are positive; those below 128 take one byte and those below 16384 two, so a
//! 128-byte value holds at least 64 elements below 16384.

use braid_oracle::violation::show_bytes;

/// Encodes `list`.
pub fn encode_list(list: &[u64]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(list.len() * 2);
    for &element in list {
        push_element(&mut bytes, element);
    }
    bytes
}

/// Appends the encoding of one element to `bytes`.
pub fn push_element(bytes: &mut Vec<u8>, mut element: u64) {
    loop {
        let low = u8::try_from(element & 0x7f).expect("seven bits");
        element >>= 7;
        if element == 0 {
            bytes.push(low);
            return;
        }
        bytes.push(low | 0x80);
    }
}

/// Decodes a stored list; an error names what is wrong with the bytes.
pub fn decode_list(bytes: &[u8]) -> Result<Vec<u64>, String> {
    let mut list = Vec::new();
    let mut element: u64 = 0;
    let mut shift = 0u32;
    for (at, &byte) in bytes.iter().enumerate() {
        if shift > 63 || (shift == 63 && byte > 1) {
            return Err(format!(
                "list element overflows at byte {at} of {}",
                show_bytes(bytes)
            ));
        }
        element |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            list.push(element);
            element = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
    if shift != 0 {
        return Err(format!(
            "list ends inside an element: {}",
            show_bytes(bytes)
        ));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip() {
        for list in [vec![], vec![1], vec![1, 127, 128, 300, 16_384, u64::MAX]] {
            assert_eq!(decode_list(&encode_list(&list)), Ok(list));
        }
        assert_eq!(encode_list(&[1, 2, 3]), vec![1, 2, 3]);
        assert_eq!(encode_list(&[300]), vec![0xac, 0x02]);
    }

    #[test]
    fn truncated_or_overlong_bytes_are_rejected() {
        assert!(decode_list(&[0x80]).is_err());
        assert!(decode_list(&[0xff; 11]).is_err());
        assert!(
            decode_list(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).is_err()
        );
    }
}
