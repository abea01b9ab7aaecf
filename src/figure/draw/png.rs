//! A small, dependency-free PNG encoder for 8-bit RGB images.
//!
//! plotters can only write PNGs to a file path (through the `image` crate, which is
//! not a direct dependency of diffrepro), so the bitmap backend draws into a buffer
//! and this module turns the buffer into PNG bytes in memory. It uses per-row filter
//! selection (the usual minimum-sum-of-absolute-differences heuristic) and a single
//! fixed-Huffman deflate block with greedy LZ77 matching: plots are mostly flat
//! colour, which this compresses well, and the output is fully deterministic.

/// Encodes `rgb` (row-major, 3 bytes per pixel, `width * height * 3` bytes) as PNG.
pub(crate) fn encode_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    debug_assert_eq!(rgb.len(), width as usize * height as usize * 3);
    let filtered = filter_rows(width as usize, height as usize, rgb);
    let idat = zlib_compress(&filtered);

    let mut out = Vec::with_capacity(idat.len() + 64);
    out.extend_from_slice(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]);
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    write_chunk(&mut out, b"IHDR", &ihdr);
    write_chunk(&mut out, b"IDAT", &idat);
    write_chunk(&mut out, b"IEND", &[]);
    out
}

fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (n, slot) in t.iter_mut().enumerate() {
            let mut c = n as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    let mut c = 0xffff_ffffu32;
    for &b in bytes {
        c = table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    c ^ 0xffff_ffff
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// Prefixes each row with the filter type that minimises the sum of absolute
/// (signed) residuals.
fn filter_rows(width: usize, height: usize, rgb: &[u8]) -> Vec<u8> {
    const BPP: usize = 3;
    let stride = width * BPP;
    let mut out = Vec::with_capacity((stride + 1) * height);
    let zero = vec![0u8; stride];
    let mut candidates: [Vec<u8>; 5] = Default::default();
    for y in 0..height {
        let row = &rgb[y * stride..(y + 1) * stride];
        let prev = if y == 0 {
            &zero[..]
        } else {
            &rgb[(y - 1) * stride..y * stride]
        };
        for (kind, cand) in candidates.iter_mut().enumerate() {
            cand.clear();
            for i in 0..stride {
                let a = if i >= BPP { row[i - BPP] } else { 0 };
                let b = prev[i];
                let c = if i >= BPP { prev[i - BPP] } else { 0 };
                let predicted = match kind {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                    _ => paeth(a, b, c),
                };
                cand.push(row[i].wrapping_sub(predicted));
            }
        }
        let cost =
            |c: &Vec<u8>| -> u64 { c.iter().map(|&v| u64::from((v as i8).unsigned_abs())).sum() };
        let mut best = 0;
        let mut best_cost = cost(&candidates[0]);
        for (kind, cand) in candidates.iter().enumerate().skip(1) {
            let c = cost(cand);
            if c < best_cost {
                best = kind;
                best_cost = c;
            }
        }
        out.push(best as u8);
        out.extend_from_slice(&candidates[best]);
    }
    out
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let pa = (p - i16::from(a)).abs();
    let pb = (p - i16::from(b)).abs();
    let pc = (p - i16::from(c)).abs();
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// LSB-first bit writer, as deflate requires.
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, nbits: u32) {
        self.acc |= u64::from(value) << self.nbits;
        self.nbits += nbits;
        while self.nbits >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.nbits -= 8;
        }
    }

    /// Huffman codes are defined MSB-first; deflate packs them reversed.
    fn put_code(&mut self, code: u32, len: u32) {
        let mut rev = 0u32;
        for i in 0..len {
            rev |= ((code >> i) & 1) << (len - 1 - i);
        }
        self.put(rev, len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.nbits > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

fn put_literal(w: &mut BitWriter, sym: u32) {
    // The fixed Huffman code of RFC 1951, section 3.2.6.
    match sym {
        0..=143 => w.put_code(0x30 + sym, 8),
        144..=255 => w.put_code(0x190 + (sym - 144), 9),
        256..=279 => w.put_code(sym - 256, 7),
        _ => w.put_code(0xc0 + (sym - 280), 8),
    }
}

fn put_match(w: &mut BitWriter, len: usize, dist: usize) {
    let li = LENGTH_BASE
        .iter()
        .rposition(|&b| usize::from(b) <= len)
        .unwrap_or(0);
    put_literal(w, 257 + li as u32);
    w.put(
        (len - usize::from(LENGTH_BASE[li])) as u32,
        u32::from(LENGTH_EXTRA[li]),
    );
    let di = DIST_BASE
        .iter()
        .rposition(|&b| usize::from(b) <= dist)
        .unwrap_or(0);
    w.put_code(di as u32, 5);
    w.put(
        (dist - usize::from(DIST_BASE[di])) as u32,
        u32::from(DIST_EXTRA[di]),
    );
}

/// zlib stream: one final fixed-Huffman block with greedy hash-chain LZ77.
fn zlib_compress(data: &[u8]) -> Vec<u8> {
    const WINDOW: usize = 32 * 1024;
    const HASH_BITS: u32 = 15;
    const MAX_CHAIN: usize = 48;
    const MIN_MATCH: usize = 3;
    const MAX_MATCH: usize = 258;

    let mut w = BitWriter {
        out: vec![0x78, 0x01],
        acc: 0,
        nbits: 0,
    };
    w.put(1, 1); // BFINAL
    w.put(1, 2); // BTYPE = 01, fixed Huffman

    let hash = |i: usize| -> usize {
        let v = u32::from(data[i]) | (u32::from(data[i + 1]) << 8) | (u32::from(data[i + 2]) << 16);
        (v.wrapping_mul(0x9e37_79b1) >> (32 - HASH_BITS)) as usize
    };
    let mut head = vec![usize::MAX; 1 << HASH_BITS];
    let mut prev = vec![usize::MAX; WINDOW];
    let insert = |i: usize, head: &mut Vec<usize>, prev: &mut Vec<usize>| {
        if i + MIN_MATCH <= data.len() {
            let h = hash(i);
            prev[i % WINDOW] = head[h];
            head[h] = i;
        }
    };

    let mut i = 0;
    while i < data.len() {
        let mut best_len = 0;
        let mut best_dist = 0;
        if i + MIN_MATCH <= data.len() {
            let mut cand = head[hash(i)];
            let max_len = MAX_MATCH.min(data.len() - i);
            let mut chain = 0;
            while cand != usize::MAX && i - cand <= WINDOW && chain < MAX_CHAIN {
                if cand < i {
                    let mut l = 0;
                    while l < max_len && data[cand + l] == data[i + l] {
                        l += 1;
                    }
                    if l > best_len {
                        best_len = l;
                        best_dist = i - cand;
                        if l == max_len {
                            break;
                        }
                    }
                }
                let next = prev[cand % WINDOW];
                if next == usize::MAX || next >= cand {
                    break;
                }
                cand = next;
                chain += 1;
            }
        }
        if best_len >= MIN_MATCH {
            put_match(&mut w, best_len, best_dist);
            for j in i..i + best_len {
                insert(j, &mut head, &mut prev);
            }
            i += best_len;
        } else {
            put_literal(&mut w, u32::from(data[i]));
            insert(i, &mut head, &mut prev);
            i += 1;
        }
    }
    put_literal(&mut w, 256);
    let mut out = w.finish();
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Minimal inflater for the streams this module writes (stored and fixed-Huffman
    /// blocks), so the encoder is checked without a decoding dependency.
    pub(crate) fn zlib_decompress(z: &[u8]) -> Vec<u8> {
        assert_eq!(
            (u16::from(z[0]) << 8 | u16::from(z[1])) % 31,
            0,
            "zlib header check"
        );
        let data = &z[2..z.len() - 4];
        let mut pos = 0usize; // bit position
        let bits = |n: u32, pos: &mut usize| -> u32 {
            let mut v = 0;
            for k in 0..n {
                let byte = data[*pos / 8];
                v |= u32::from((byte >> (*pos % 8)) & 1) << k;
                *pos += 1;
            }
            v
        };
        let mut out: Vec<u8> = Vec::new();
        loop {
            let last = bits(1, &mut pos);
            let kind = bits(2, &mut pos);
            assert_eq!(kind, 1, "only fixed-Huffman blocks are written");
            loop {
                // Read a fixed-Huffman literal/length symbol MSB-first.
                let mut code = 0u32;
                let mut len = 0;
                let sym = loop {
                    code = (code << 1) | bits(1, &mut pos);
                    len += 1;
                    match len {
                        7 if code <= 0x17 => break code + 256,
                        8 if (0x30..=0xbf).contains(&code) => break code - 0x30,
                        8 if (0xc0..=0xc7).contains(&code) => break code - 0xc0 + 280,
                        9 if (0x190..=0x1ff).contains(&code) => break code - 0x190 + 144,
                        9 => panic!("bad code"),
                        _ => {}
                    }
                };
                match sym {
                    0..=255 => out.push(sym as u8),
                    256 => break,
                    _ => {
                        let li = (sym - 257) as usize;
                        let l = usize::from(LENGTH_BASE[li])
                            + bits(u32::from(LENGTH_EXTRA[li]), &mut pos) as usize;
                        let mut dc = 0u32;
                        for _ in 0..5 {
                            dc = (dc << 1) | bits(1, &mut pos);
                        }
                        let di = dc as usize;
                        let d = usize::from(DIST_BASE[di])
                            + bits(u32::from(DIST_EXTRA[di]), &mut pos) as usize;
                        let start = out.len() - d;
                        for k in 0..l {
                            out.push(out[start + k]);
                        }
                    }
                }
            }
            if last == 1 {
                break;
            }
        }
        let expect = u32::from_be_bytes([
            z[z.len() - 4],
            z[z.len() - 3],
            z[z.len() - 2],
            z[z.len() - 1],
        ]);
        assert_eq!(adler32(&out), expect, "adler32");
        out
    }

    #[test]
    fn deflate_round_trips() {
        let mut data = Vec::new();
        for i in 0..20_000u32 {
            data.push((i % 7) as u8);
            if i % 13 == 0 {
                data.push((i.wrapping_mul(2_654_435_761) >> 24) as u8);
            }
        }
        data.extend(std::iter::repeat_n(255u8, 5000));
        let z = zlib_compress(&data);
        assert!(z.len() < data.len() / 3);
        assert_eq!(zlib_decompress(&z), data);
        assert_eq!(zlib_decompress(&zlib_compress(&[])), Vec::<u8>::new());
        assert_eq!(zlib_decompress(&zlib_compress(b"ab")), b"ab".to_vec());
    }

    #[test]
    fn crc_matches_known_value() {
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}
