//! A tiny seeded generator (SplitMix64) for arrival gaps and body variation.
//!
//! Reproducible from its seed, no shared state, a few instructions per draw.

/// SplitMix64 (Steele, Lea, Flood 2014): passes BigCrush, 64 bits of state.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// Generator number `stream` of a family seeded by `seed`. Streams must not start a few
    /// steps apart on the same sequence (SplitMix64 walks its state in steps of a fixed gamma, so
    /// `seed ^ stream * gamma` can land exactly one step ahead: the streams are then the same
    /// numbers, shifted). A mixed stream index puts them at unrelated points of the sequence.
    pub fn stream(seed: u64, stream: u64) -> Self {
        SplitMix64 { state: seed ^ mix(stream.wrapping_add(0x6A09_E667_F3BC_C909)) }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// Uniform in (0, 1]: never 0, so `ln` is finite.
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Exponentially distributed with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -self.unit().ln() * mean
    }
}

/// SplitMix64's output function: a bijective 64-bit mixer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
