import RealModule

/// The floating-point formats the lab computes in.
///
/// `bfloat16` has no standard Swift type: it is emulated by `BFloat16`, which computes each operation in `Float` and
/// rounds the result to 8 significand bits (ties to even), as hardware with bfloat16 arithmetic does.
public enum Precision: String, CaseIterable, Sendable, Codable {
  case float64, float32, bfloat16, float16

  /// The next format in the explorer's cycle: float64 → float32 → bfloat16 → float16 → float64.
  public var next: Precision {
    switch self {
    case .float64: .float32
    case .float32: .bfloat16
    case .bfloat16: .float16
    case .float16: .float64
    }
  }

  /// Parses a name such as `float32`, also the aliases `f32`, `fp32`, `single`, `double`, `half`, `bf16`.
  public init?(name: String) {
    switch name.lowercased() {
    case "float64", "f64", "fp64", "double": self = .float64
    case "float32", "f32", "fp32", "single", "float": self = .float32
    case "bfloat16", "bf16": self = .bfloat16
    case "float16", "f16", "fp16", "half": self = .float16
    default: return nil
    }
  }

  /// Rounds a `Double` into this format (to nearest, ties to even) and widens it back exactly.
  @inlinable public func round(_ x: Double) -> Double {
    switch self {
    case .float64: x
    case .float32: Double(Float(x))
    case .bfloat16: Double(BFloat16(x))
    case .float16: Precision.roundToHalf(x)
    }
  }

  /// Every value rounded into this format (float64 shares the array).
  public func round(_ xs: [Double]) -> [Double] {
    switch self {
    case .float64: xs
    case .float32: xs.map { Double(Float($0)) }
    case .bfloat16: xs.map { Double(BFloat16($0)) }
    case .float16: xs.map { Precision.roundToHalf($0) }
    }
  }

  /// `Double(Float16(x))` with bit operations instead of the library conversion (there is no instruction for it
  /// without F16C): ties to even, `±inf` from 65520 up, subnormals in steps of 2^−24, signs and NaN kept.
  @inlinable static func roundToHalf(_ x: Double) -> Double {
    let a = x.magnitude
    guard a < 65520 else { return a.isNaN ? x : (x < 0 ? -.infinity : .infinity) }
    let sign = x.bitPattern & (1 << 63)
    if a < 0x1p-14 {
      // 2^28's ulp is 2^−24, float16's subnormal step: the addition rounds `a` to it.
      let r = (a + 0x1p28) - 0x1p28
      return Double(bitPattern: r.bitPattern | sign)
    }
    // Round the 52-bit significand to 10 bits, ties to even (a carry into the exponent is the right answer).
    let b = a.bitPattern
    let half: UInt64 = (1 << 41) - 1
    let r = (b &+ half &+ ((b >> 42) & 1)) & ~((1 << 42) - 1)
    return Double(bitPattern: r | sign)
  }

  /// The shortest decimal that reads back to the same value in this format (e.g. `0.6652` in float16).
  public func roundTrip(_ x: Double) -> String {
    let text = shortest(x)
    NumberRecorder.current?.record(x, text, .shortest(self))
    return text
  }

  private func shortest(_ x: Double) -> String {
    switch self {
    case .float64: x.description
    case .float32: Float(x).description
    case .bfloat16: BFloat16(x).description
    case .float16: Float16(x).description
    }
  }

  /// Writes ``roundTrip(_:)`` into `target`. The standard library hands the digits of `Double`, `Float` and
  /// `Float16` to the stream's `_writeASCII`, so a stream that takes bytes in place builds no `String` on the way (a
  /// float64's 17 digits would not fit a small one).
  public func writeRoundTrip(_ x: Double, to target: inout some TextOutputStream) {
    if let recorder = NumberRecorder.current { recorder.record(x, x.isNaN ? "nan" : shortest(x), .shortest(self)) }
    // `write(to:)` spells NaN as `debugDescription` does (`-nan`, `snan`); `description` says `nan`.
    if x.isNaN { return target.write("nan") }
    switch self {
    case .float64: x.write(to: &target)
    case .float32: Float(x).write(to: &target)
    case .bfloat16: target.write(BFloat16(x).description)
    case .float16: Float16(x).write(to: &target)
    }
  }

  /// Facts about this format, computed from the type itself.
  public var facts: PrecisionFacts {
    switch self {
    case .float64: PrecisionFacts(Double.self, precision: self)
    case .float32: PrecisionFacts(Float.self, precision: self)
    case .bfloat16: PrecisionFacts(BFloat16.self, precision: self)
    case .float16: PrecisionFacts(Float16.self, precision: self)
    }
  }
}

/// Range and resolution of a format, and where `e^x` leaves it — computed, not tabulated.
public struct PrecisionFacts: Sendable, Equatable {
  public var precision: Precision
  /// Bits of significand precision, counting the implicit bit (53 for float64).
  public var significandBits: Int
  /// The largest finite value.
  public var maxFinite: Double
  /// The gap between 1 and the next larger value (machine epsilon).
  public var ulpOfOne: Double
  /// The smallest positive normal value.
  public var leastNormal: Double
  /// The smallest positive subnormal value.
  public var leastNonzero: Double
  /// `ln(maxFinite)`: above about this, `e^x` rounds to infinity.
  public var expOverflow: Double
  /// `ln(leastNormal)`: below this, `e^x` is subnormal and loses relative precision.
  public var expSubnormal: Double
  /// `ln(leastNonzero / 2)`: at or below this, `e^x` rounds to zero.
  public var expZero: Double

  init<T: SoftmaxScalar>(_: T.Type, precision: Precision) {
    self.precision = precision
    significandBits = T.significandBitCount + 1
    maxFinite = Double(T.greatestFiniteMagnitude)
    ulpOfOne = Double(T.ulpOfOne)
    leastNormal = Double(T.leastNormalMagnitude)
    leastNonzero = Double(T.leastNonzeroMagnitude)
    expOverflow = Double.log(maxFinite)
    expSubnormal = Double.log(leastNormal)
    // Half the least subnormal is a tie that rounds to the even neighbour, zero; anything above rounds up to it.
    expZero = Double.log(leastNonzero) - Double.log(2)
  }
}
