//! A safe wrapper over libdeflate's whole-buffer gzip decoder that reports how many input
//! bytes the first gzip member used.
//!
//! The `libdeflater` crate exposes only `libdeflate_gzip_decompress`, which silently ignores
//! anything after the first member. A CloudTrail object is exactly one member, and bytes
//! appended after it are the tampering that `aws cloudtrail validate-logs` has rejected since
//! May 2026 (aws/aws-cli#10324): a reader that accepts them can be fed forged records that the
//! digest never covered. `libdeflate_gzip_decompress_ex` returns the consumed length, so the
//! check costs nothing. This is the crate's only `unsafe` code.
#![allow(unsafe_code)]

use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_SUCCESS,
};

/// Why libdeflate declined a buffer (the caller falls back to the streaming decoder, which
/// names the problem).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declined;

/// One libdeflate decompressor (about 32 KiB of tables), reused across objects.
pub struct GzipInflater {
    ptr: NonNull<libdeflate_decompressor>,
}

// SAFETY: a libdeflate decompressor holds no thread-affine state; it is used from one thread
// at a time (`&mut self`), and moving it between threads is allowed by libdeflate's docs.
unsafe impl Send for GzipInflater {}

impl GzipInflater {
    pub fn new() -> Self {
        // SAFETY: plain allocation with libdeflate's default allocator; null means OOM.
        let ptr = unsafe { libdeflate_alloc_decompressor() };
        GzipInflater {
            ptr: NonNull::new(ptr).expect("libdeflate could not allocate a decompressor"),
        }
    }

    /// Inflates the first gzip member of `input` into `out`, checking its CRC32 and ISIZE.
    /// Returns `(input bytes consumed, output bytes written)`.
    pub fn first_member(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize), Declined> {
        let (mut consumed, mut written) = (0usize, 0usize);
        // SAFETY: the pointers and lengths come from live slices that outlive the call;
        // libdeflate reads at most `input.len()` bytes, writes at most `out.len()` bytes, and
        // writes the two counts through valid `&mut usize`.
        let ret = unsafe {
            libdeflate_gzip_decompress_ex(
                self.ptr.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                &mut consumed,
                &mut written,
            )
        };
        if ret == libdeflate_result_LIBDEFLATE_SUCCESS
            && consumed <= input.len()
            && written <= out.len()
        {
            Ok((consumed, written))
        } else {
            Err(Declined)
        }
    }
}

impl Default for GzipInflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for GzipInflater {
    fn drop(&mut self) {
        // SAFETY: allocated by `libdeflate_alloc_decompressor` and freed exactly once.
        unsafe { libdeflate_free_decompressor(self.ptr.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reports_the_end_of_the_first_member() {
        let one = gz(b"{\"Records\":[]}");
        let mut out = vec![0u8; 64];
        let mut inf = GzipInflater::new();
        assert_eq!(inf.first_member(&one, &mut out), Ok((one.len(), 14)));
        assert_eq!(&out[..14], b"{\"Records\":[]}");
        let mut two = one.clone();
        two.extend_from_slice(&gz(b"{\"Records\":[{}]}"));
        assert_eq!(inf.first_member(&two, &mut out), Ok((one.len(), 14)));
        let mut junk = one.clone();
        junk.extend_from_slice(b"extra");
        assert_eq!(inf.first_member(&junk, &mut out), Ok((one.len(), 14)));
    }

    #[test]
    fn declines_bad_data_and_short_buffers() {
        let one = gz(&[b'x'; 1000]);
        let mut inf = GzipInflater::new();
        assert_eq!(inf.first_member(&one, &mut [0u8; 10]), Err(Declined));
        assert_eq!(
            inf.first_member(&one[..one.len() / 2], &mut [0u8; 2000]),
            Err(Declined)
        );
        let mut bad_crc = one.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        assert_eq!(inf.first_member(&bad_crc, &mut [0u8; 2000]), Err(Declined));
    }
}
