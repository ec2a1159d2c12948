import RealModule

/// A small, fast, seeded generator (SplitMix64) so random vectors repeat exactly for a given seed.
public struct SeededRandom: RandomNumberGenerator, Sendable {
  public var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform value in [0, 1) with 53 random bits.
  public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

  /// A standard normal value (Box–Muller).
  public mutating func nextNormal() -> Double {
    let u1 = 1 - nextUnit()  // (0, 1], so the log is finite
    let u2 = nextUnit()
    return Double.sqrt(-2 * Double.log(u1)) * Double.cos(2 * Double.pi * u2)
  }

  /// `count` normal values with standard deviation `scale`, the lab's `--random` vector.
  public static func logits(count: Int, seed: UInt64, scale: Double) -> [Double] {
    var rng = SeededRandom(seed: seed)
    return (0..<count).map { _ in rng.nextNormal() * scale }
  }
}
