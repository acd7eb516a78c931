//! Upload data without disk or per-upload buffers: one pool of incompressible pseudo-random
//! bytes, generated once from a seed and shared by every core; each part is a zero-copy slice
//! of it (`Bytes`) starting at an offset unique to that (upload, part), so no two parts of a
//! run are identical and anyone holding the seed can regenerate what blast sent.
//!
//! Checksums are pre-computed where the data repeats by construction: the pool keeps the CRC32C
//! of every 4 KiB-aligned prefix, and CRC32C is linear, so the checksum of any slice follows from
//! two prefix checksums, at most 8 KiB of hashing and two `crc32c_combine` calls: microseconds
//! instead of ~1 ms per 10 MiB part.
//!
//! Memory: `part_size + SPREAD` bytes plus 1 KiB of prefix checksums per MiB, whatever `--size`
//! and `--parallel` are.

use bytes::Bytes;

/// Distinct part offsets available (16 MiB): parts are unique for the first 2^24 parts of a run.
pub const SPREAD: usize = 1 << 24;
/// Odd, so that `index * STRIDE mod SPREAD` visits every offset once.
const STRIDE: usize = 4097;
/// Part numbers are at most 10,000 (S3), so `upload * PARTS_PER_UPLOAD + part` is unique.
const PARTS_PER_UPLOAD: u64 = 10_007;

/// Granularity of the pre-computed prefix checksums.
const BLOCK: usize = 4096;

/// The shared data pool.
#[derive(Clone)]
pub struct DataPool {
    bytes: Bytes,
    part_size: usize,
    /// `prefix[k]`: CRC32C of `bytes[..k * BLOCK]`.
    prefix: std::sync::Arc<Vec<u32>>,
}

impl DataPool {
    pub fn new(seed: u64, part_size: usize) -> Self {
        let len = part_size + SPREAD;
        let mut v = Vec::with_capacity(len + 8);
        let mut state = seed ^ 0x9e37_79b9_7f4a_7c15;
        while v.len() < len {
            v.extend_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        v.truncate(len);
        let mut prefix = Vec::with_capacity(len / BLOCK + 1);
        let mut crc = 0u32;
        prefix.push(crc);
        for block in v.chunks_exact(BLOCK) {
            crc = crc32c::crc32c_append(crc, block);
            prefix.push(crc);
        }
        DataPool { bytes: Bytes::from(v), part_size, prefix: std::sync::Arc::new(prefix) }
    }

    /// CRC32C of `bytes[..end]`.
    fn prefix_crc(&self, end: usize) -> u32 {
        let k = end / BLOCK;
        crc32c::crc32c_append(self.prefix[k], &self.bytes[k * BLOCK..end])
    }

    /// CRC32C of `part(upload, part, len)`, from the pre-computed prefixes: by linearity,
    /// crc(A || B) = combine(crc(A), 0, |B|) ^ crc(B).
    pub fn part_crc32c(&self, upload: u64, part: u32, len: usize) -> u32 {
        let start = self.offset(upload, part);
        let end = start + len.min(self.part_size);
        crc32c::crc32c_combine(self.prefix_crc(start), 0, end - start) ^ self.prefix_crc(end)
    }

    fn offset(&self, upload: u64, part: u32) -> usize {
        let index = upload.wrapping_mul(PARTS_PER_UPLOAD).wrapping_add(part as u64) as usize;
        index.wrapping_mul(STRIDE) % SPREAD
    }

    /// Bytes held by the pool.
    pub fn footprint(&self) -> usize {
        self.bytes.len()
    }

    /// The data of part `part` (1-based) of upload `upload`, `len` bytes long (at most the
    /// part size: the last part of an object may be shorter).
    pub fn part(&self, upload: u64, part: u32, len: usize) -> Bytes {
        let offset = self.offset(upload, part);
        self.bytes.slice(offset..offset + len.min(self.part_size))
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn parts_are_distinct_and_reproducible() {
        let pool = DataPool::new(7, 64 << 10);
        let mut seen = HashSet::new();
        for upload in 0..50 {
            for part in 1..=40 {
                let p = pool.part(upload, part, 64 << 10);
                assert_eq!(p.len(), 64 << 10);
                assert!(seen.insert(crc32c::crc32c(&p)), "upload {upload} part {part} repeats");
            }
        }
        let again = DataPool::new(7, 64 << 10);
        assert_eq!(pool.part(3, 5, 1000), again.part(3, 5, 1000));
        assert_ne!(DataPool::new(8, 64 << 10).part(3, 5, 1000), again.part(3, 5, 1000));
    }

    #[test]
    fn precomputed_checksums_equal_hashing_the_part() {
        let pool = DataPool::new(3, 5 << 20);
        for (upload, part, len) in [(0, 1, 5 << 20), (7, 3, 5 << 20), (99, 10_000, 1), (12, 2, 4096), (5, 9, 123_457)] {
            let direct = crc32c::crc32c(&pool.part(upload, part, len));
            assert_eq!(pool.part_crc32c(upload, part, len), direct, "upload {upload} part {part} len {len}");
        }
    }

    #[test]
    fn data_is_incompressible_by_construction() {
        // Every byte value about equally frequent: a crude but sufficient randomness check.
        let pool = DataPool::new(1, 1 << 20);
        let mut counts = [0u32; 256];
        for b in pool.part(0, 1, 1 << 20).iter() {
            counts[*b as usize] += 1;
        }
        let expected = (1 << 20) / 256;
        assert!(counts.iter().all(|&c| c > expected * 9 / 10 && c < expected * 11 / 10));
    }
}
