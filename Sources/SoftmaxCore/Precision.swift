import RealModule

/// The floating-point formats the lab computes in.
///
/// `bfloat16` has no standard Swift type: it is emulated by `BFloat16`, which computes each operation in `Float` and
/// rounds the result to 8 significand bits (ties to even), as hardware with bfloat16 arithmetic does.
public enum Precision: String, CaseIterable, Sendable, Codable {
  case float64, float32, bfloat16, float16

  /// The next format in the cycle float64 → float32 → bfloat16 → float16 → float64.
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

  /// The shortest decimal that reads back to the same value in this format (`0.6652` in float16): the digits of
  /// the format's own `description` (NaN is `nan`).
  public func shortest(_ x: Double) -> String {
    switch self {
    case .float64: x.description
    case .float32: Float(x).description
    case .bfloat16: BFloat16(x).description
    case .float16: Float16(x).description
    }
  }

  /// Writes ``shortest(_:)`` into `target` without building a `String` where the standard library allows it: it hands
  /// the digits of `Double`, `Float` and `Float16` to the stream's `_writeASCII`, so a stream that takes bytes in place
  /// builds none (a float64's 17 digits would not fit a small string).
  public func writeShortest(_ x: Double, to target: inout some TextOutputStream) {
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
    struct Facts: PrecisionBody {
      let precision: Precision
      func callAsFunction<T: PrecisionScalar>(_: T.Type) -> PrecisionFacts {
        PrecisionFacts(T.self, precision: precision)
      }
    }
    return open(Facts(precision: self))
  }

  /// The gap between `x` rounded into this precision and the next value of larger magnitude (`ulp` of that value;
  /// infinite when `x` rounds to infinity).
  public func ulp(of x: Double) -> Double {
    struct Ulp: PrecisionBody {
      let x: Double
      func callAsFunction<T: PrecisionScalar>(_: T.Type) -> Double { T(rounding: x).ulp.double }
    }
    return open(Ulp(x: x))
  }
}

/// Range and resolution of a format, and where `e^x` leaves it — computed, not tabulated.
public struct PrecisionFacts: Sendable, Equatable {
  public var precision: Precision
  /// Bits of significand precision, counting the implicit bit (53 for float64).
  public var significandBits: Int
  /// Bytes a value takes in memory.
  public var byteWidth: Int
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
    byteWidth = MemoryLayout<T>.size
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

// MARK: - The one place a precision becomes a type

/// A computation written once, generically, for the scalar type of any precision: ``Precision/open(_:)`` calls it with
/// the precision's type. Everything below that call is generic code.
protocol PrecisionBody {
  associatedtype Output
  func callAsFunction<T: PrecisionScalar>(_: T.Type) -> Output
}

/// A scalar type that is a ``Precision``'s: the formats its trusted path computes in and how a lean pass carries its
/// arithmetic.
protocol PrecisionScalar: SoftmaxScalar {
  /// The widest format the trusted path uses (up to ``Evaluation/wideLimit`` classes): `Float80` for float64 where the
  /// platform has it, `Double` for the others.
  associatedtype Wide: WideScalar
  /// The arithmetic of a lean column (``LeanArithmetic``): the type's own, or float16 carried in `Float`.
  associatedtype Lean: LeanArithmetic
}

extension Precision {
  /// Calls `body` with this precision's scalar type: the only `switch` from a precision to a type.
  @inline(__always)
  func open<B: PrecisionBody>(_ body: B) -> B.Output {
    switch self {
    case .float64: body(Double.self)
    case .float32: body(Float.self)
    case .bfloat16: body(BFloat16.self)
    case .float16: body(Float16.self)
    }
  }
}

#if arch(x86_64) || arch(i386)
  extension Double: PrecisionScalar {
    typealias Wide = Float80
    typealias Lean = NativeArithmetic<Double>
  }
#else
  extension Double: PrecisionScalar {
    typealias Wide = Double
    typealias Lean = NativeArithmetic<Double>
  }
#endif
extension Float: PrecisionScalar {
  typealias Wide = Double
  typealias Lean = NativeArithmetic<Float>
}
extension BFloat16: PrecisionScalar {
  typealias Wide = Double
  typealias Lean = NativeArithmetic<BFloat16>
}
extension Float16: PrecisionScalar {
  typealias Wide = Double
  typealias Lean = HalfInFloat
}
