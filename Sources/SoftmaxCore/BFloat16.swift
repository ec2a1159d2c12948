import RealModule

/// An emulated bfloat16 ("brain floating point") number.
///
/// Swift has no standard bfloat16 type, so this is a software emulation.
/// A `BFloat16` stores the top 16 bits of an IEEE 754 binary32 (`Float`):
/// 1 sign bit, 8 exponent bits (the same range as `Float`) and 7 stored
/// significand bits, giving 8 bits of significand precision.
///
/// Arithmetic model: every operation is *emulated by rounding to 8 significand
/// bits after every operation*. Each operation widens its operands exactly to
/// `Float`, computes the result in `Float`, and rounds that result once to
/// bfloat16 (round to nearest, ties to even). For `+`, `-`, `*`, `/` and
/// `squareRoot()` this gives the correctly rounded bfloat16 result, because
/// `Float` has more than twice bfloat16's precision plus two bits, which makes
/// the double rounding innocuous. Elementary and special functions (`exp`,
/// `log`, `sin`, ...) are as accurate as the `Float` implementation followed by
/// one rounding. `addingProduct(_:_:)` is fused: it is rounded only once.
///
/// Conversions from `Double`, `Float80` and other wider types round directly
/// to bfloat16 (no double rounding through `Float`).
public struct BFloat16: Sendable {
  /// The raw IEEE-style encoding: the top 16 bits of the equivalent `Float`.
  public var bitPattern: UInt16

  /// Creates a value with the given raw encoding.
  @inlinable @inline(__always)
  public init(bitPattern: UInt16) {
    self.bitPattern = bitPattern
  }

  /// Rounds a `Float` to the nearest bfloat16, ties to even.
  ///
  /// NaN stays NaN (quieted, sign and the top payload bits kept), infinities
  /// stay infinite, values past the largest finite bfloat16 round to infinity,
  /// and subnormals round with the same bit arithmetic.
  @inlinable @inline(__always)
  public init(_ value: Float) {
    let bits = value.bitPattern
    if bits & 0x7FFF_FFFF > 0x7F80_0000 {
      self.bitPattern = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
    } else {
      let lsb = (bits >> 16) & 1
      self.bitPattern = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ lsb) >> 16)
    }
  }

  /// The exact value as a `Float` (a lossless widening).
  @inlinable @inline(__always)
  public var floatValue: Float {
    Float(bitPattern: UInt32(bitPattern) << 16)
  }

  /// Rounds a `Double` directly to the nearest bfloat16, ties to even.
  ///
  /// The `Double` is first narrowed to `Float` with round-to-odd (truncate,
  /// then set the last bit if anything was lost), which keeps a sticky bit far
  /// below bfloat16's rounding position, so the final round-to-nearest step is
  /// the correctly rounded result: there is no double rounding.
  @inlinable
  public init(_ value: Double) {
    self.init(BFloat16._roundToOddFloat(value))
  }

  #if !(os(Windows) || os(Android)) && (arch(i386) || arch(x86_64))
    /// Rounds a `Float80` directly to the nearest bfloat16, ties to even.
    @inlinable
    public init(_ value: Float80) {
      self.init(BFloat16._roundToOddFloat(BFloat16._roundToOddDouble(value)))
    }
  #endif

  #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
    /// Rounds a `Float16` to the nearest bfloat16 (via its exact `Float` value).
    @available(macOS 11.0, iOS 14.0, tvOS 14.0, watchOS 7.0, *)
    @inlinable
    public init(_ value: Float16) {
      self.init(Float(value))
    }
  #endif

  /// `Double` to `Float` with round-to-odd: the result is the `Float` closest to
  /// zero not farther from zero than `value`, with its lowest bit set when the
  /// conversion was inexact.
  @inlinable @inline(__always)
  static func _roundToOddFloat(_ value: Double) -> Float {
    let nearest = Float(value)
    let back = Double(nearest)
    if back == value || value.isNaN { return nearest }
    var bits = nearest.bitPattern
    if back.magnitude > value.magnitude { bits &-= 1 }
    return Float(bitPattern: bits | 1)
  }

  /// Any binary floating-point value to `Double` with round-to-odd.
  @inlinable
  static func _roundToOddDouble<Source: BinaryFloatingPoint>(_ value: Source) -> Double {
    let nearest = Double(value)
    if value.isNaN { return nearest }
    let back = Source(nearest)
    if back == value { return nearest }
    var bits = nearest.bitPattern
    if back.magnitude > value.magnitude { bits &-= 1 }
    return Double(bitPattern: bits | 1)
  }

  /// Correctly rounded conversion of an integer too large for the exact path.
  @usableFromInline
  static func _fromInteger<Source: BinaryInteger>(_ value: Source) -> BFloat16 {
    let negative = value < 0
    let magnitude = value.magnitude
    var bitLength = 0
    var index = 0
    for word in magnitude.words {
      if word != 0 {
        bitLength = index * UInt.bitWidth + (UInt.bitWidth - word.leadingZeroBitCount)
      }
      index += 1
    }
    if bitLength == 0 { return BFloat16(bitPattern: 0) }
    let shift = Swift.max(bitLength - 24, 0)
    // Keep 24 bits and fold everything below into a sticky (round-to-odd) bit;
    // the final rounding to 8 bits is then correct.
    var top = UInt32(truncatingIfNeeded: magnitude >> shift)
    if magnitude.trailingZeroBitCount < shift { top |= 1 }
    let float = Float(sign: negative ? .minus : .plus, exponent: shift, significand: Float(top))
    return BFloat16(float)
  }
}

// MARK: - Widening conversions out of BFloat16

extension Float {
  /// The exact value of a bfloat16.
  @inlinable @inline(__always)
  public init(_ value: BFloat16) {
    self = value.floatValue
  }
}

extension Double {
  /// The exact value of a bfloat16.
  @inlinable @inline(__always)
  public init(_ value: BFloat16) {
    self = Double(value.floatValue)
  }
}

// MARK: - Literals

extension BFloat16: ExpressibleByFloatLiteral {
  /// Rounds the literal (already a `Double`) directly to bfloat16.
  @inlinable
  public init(floatLiteral value: Double) {
    self.init(value)
  }
}

extension BFloat16: ExpressibleByIntegerLiteral {
  @inlinable
  public init(integerLiteral value: Int) {
    self.init(value)
  }
}

// MARK: - Equality, hashing, ordering

extension BFloat16: Hashable {
  @inlinable @inline(__always)
  public static func == (lhs: BFloat16, rhs: BFloat16) -> Bool {
    lhs.floatValue == rhs.floatValue
  }

  /// Hashes consistently with `==`: `+0` and `-0` hash alike.
  @inlinable
  public func hash(into hasher: inout Hasher) {
    hasher.combine(bitPattern & 0x7FFF == 0 ? 0 : bitPattern)
  }
}

extension BFloat16: Comparable {
  @inlinable @inline(__always)
  public static func < (lhs: BFloat16, rhs: BFloat16) -> Bool {
    lhs.floatValue < rhs.floatValue
  }

  @inlinable @inline(__always)
  public static func <= (lhs: BFloat16, rhs: BFloat16) -> Bool {
    lhs.floatValue <= rhs.floatValue
  }

  @inlinable @inline(__always)
  public static func > (lhs: BFloat16, rhs: BFloat16) -> Bool {
    lhs.floatValue > rhs.floatValue
  }

  @inlinable @inline(__always)
  public static func >= (lhs: BFloat16, rhs: BFloat16) -> Bool {
    lhs.floatValue >= rhs.floatValue
  }
}

// MARK: - BinaryFloatingPoint

extension BFloat16: BinaryFloatingPoint {
  public typealias Magnitude = BFloat16
  public typealias Exponent = Int
  public typealias RawSignificand = UInt16
  public typealias RawExponent = UInt
  public typealias Stride = BFloat16

  // Format constants.

  @inlinable public static var exponentBitCount: Int { 8 }
  @inlinable public static var significandBitCount: Int { 7 }

  @inlinable public static var zero: BFloat16 { BFloat16(bitPattern: 0) }
  @inlinable public static var nan: BFloat16 { BFloat16(bitPattern: 0x7FC0) }
  @inlinable public static var signalingNaN: BFloat16 { BFloat16(bitPattern: 0x7FA0) }
  @inlinable public static var infinity: BFloat16 { BFloat16(bitPattern: 0x7F80) }
  /// 0x1.FEp127 ≈ 3.3895313892515355e38.
  @inlinable public static var greatestFiniteMagnitude: BFloat16 { BFloat16(bitPattern: 0x7F7F) }
  /// 2^-126.
  @inlinable public static var leastNormalMagnitude: BFloat16 { BFloat16(bitPattern: 0x0080) }
  /// 2^-133.
  @inlinable public static var leastNonzeroMagnitude: BFloat16 { BFloat16(bitPattern: 0x0001) }
  /// 2^-7.
  @inlinable public static var ulpOfOne: BFloat16 { BFloat16(bitPattern: 0x3C00) }
  /// π rounded toward zero: 3.140625 (0x4049).
  @inlinable public static var pi: BFloat16 { BFloat16(bitPattern: 0x4049) }

  // Initializers.

  @inlinable
  public init(sign: FloatingPointSign, exponentBitPattern: UInt, significandBitPattern: UInt16) {
    let signBit: UInt16 = sign == .minus ? 0x8000 : 0
    let exponentBits = UInt16(truncatingIfNeeded: exponentBitPattern & 0xFF) << 7
    self.init(bitPattern: signBit | exponentBits | (significandBitPattern & 0x7F))
  }

  @inlinable
  public init(sign: FloatingPointSign, exponent: Int, significand: BFloat16) {
    self.init(Float(sign: sign, exponent: exponent, significand: significand.floatValue))
  }

  @inlinable @inline(__always)
  public init(signOf: BFloat16, magnitudeOf: BFloat16) {
    self.init(bitPattern: (signOf.bitPattern & 0x8000) | (magnitudeOf.bitPattern & 0x7FFF))
  }

  @inlinable
  public init(_ value: Int) {
    if value.magnitude <= 1 << 24 {
      self.init(Float(value))
    } else {
      self = BFloat16._fromInteger(value)
    }
  }

  @inlinable
  public init<Source: BinaryInteger>(_ value: Source) {
    if let small = Int32(exactly: value), small.magnitude <= 1 << 24 {
      self.init(Float(small))
    } else {
      self = BFloat16._fromInteger(value)
    }
  }

  @inlinable
  public init?<Source: BinaryInteger>(exactly value: Source) {
    let rounded = BFloat16(value)
    guard rounded.isFinite, Source(exactly: rounded.floatValue) == value else { return nil }
    self = rounded
  }

  @inlinable
  public init<Source: BinaryFloatingPoint>(_ value: Source) {
    if let float = value as? Float {
      self.init(float)
    } else if let double = value as? Double {
      self.init(double)
    } else if let bf16 = value as? BFloat16 {
      self = bf16
    } else if Source.significandBitCount <= 23 && Source.exponentBitCount <= 8 {
      // Every value of such a format is exactly a Float (e.g. Float16).
      self.init(Float(value))
    } else {
      self.init(BFloat16._roundToOddFloat(BFloat16._roundToOddDouble(value)))
    }
  }

  @inlinable
  public init?<Source: BinaryFloatingPoint>(exactly value: Source) {
    if value.isNaN { return nil }
    let rounded = BFloat16(value)
    guard Source(rounded.floatValue) == value else { return nil }
    self = rounded
  }

  // Bit fields.

  @inlinable @inline(__always)
  public var exponentBitPattern: UInt { UInt((bitPattern >> 7) & 0xFF) }

  @inlinable @inline(__always)
  public var significandBitPattern: UInt16 { bitPattern & 0x7F }

  @inlinable @inline(__always)
  public var sign: FloatingPointSign { bitPattern & 0x8000 == 0 ? .plus : .minus }

  @inlinable @inline(__always)
  public var magnitude: BFloat16 { BFloat16(bitPattern: bitPattern & 0x7FFF) }

  // Classification (bit based).

  @inlinable @inline(__always)
  public var isZero: Bool { bitPattern & 0x7FFF == 0 }

  @inlinable @inline(__always)
  public var isFinite: Bool { bitPattern & 0x7F80 != 0x7F80 }

  @inlinable @inline(__always)
  public var isInfinite: Bool { bitPattern & 0x7FFF == 0x7F80 }

  @inlinable @inline(__always)
  public var isNaN: Bool { bitPattern & 0x7FFF > 0x7F80 }

  @inlinable @inline(__always)
  public var isSignalingNaN: Bool { isNaN && bitPattern & 0x0040 == 0 }

  @inlinable @inline(__always)
  public var isNormal: Bool {
    let exponentBits = bitPattern & 0x7F80
    return exponentBits != 0 && exponentBits != 0x7F80
  }

  @inlinable @inline(__always)
  public var isSubnormal: Bool { bitPattern & 0x7F80 == 0 && bitPattern & 0x7F != 0 }

  @inlinable @inline(__always)
  public var isCanonical: Bool { true }

  // Decomposition. The widening to Float is exact and preserves exponent,
  // significand, binade and significand width, so these delegate to Float.

  @inlinable
  public var exponent: Int { floatValue.exponent }

  @inlinable
  public var significand: BFloat16 { BFloat16(floatValue.significand) }

  @inlinable
  public var binade: BFloat16 { BFloat16(floatValue.binade) }

  @inlinable
  public var significandWidth: Int { floatValue.significandWidth }

  /// The unit in the last place of bfloat16 (2^(exponent - 7), at least 2^-133).
  @inlinable
  public var ulp: BFloat16 {
    let exponentBits = (bitPattern >> 7) & 0xFF
    if exponentBits == 0xFF { return .nan }
    if exponentBits >= 8 { return BFloat16(bitPattern: (exponentBits - 7) << 7) }
    if exponentBits == 0 { return .leastNonzeroMagnitude }
    return BFloat16(bitPattern: 1 << (exponentBits - 1))
  }

  @inlinable
  public var nextUp: BFloat16 {
    if isNaN { return BFloat16(bitPattern: bitPattern | 0x0040) }
    if bitPattern == 0x7F80 { return self }
    if isZero { return .leastNonzeroMagnitude }
    return BFloat16(bitPattern: bitPattern & 0x8000 == 0 ? bitPattern &+ 1 : bitPattern &- 1)
  }

  // Arithmetic: exact widening, one Float operation, one rounding.

  @inlinable @inline(__always)
  public static func + (lhs: BFloat16, rhs: BFloat16) -> BFloat16 {
    BFloat16(lhs.floatValue + rhs.floatValue)
  }

  @inlinable @inline(__always)
  public static func += (lhs: inout BFloat16, rhs: BFloat16) { lhs = lhs + rhs }

  @inlinable @inline(__always)
  public static func - (lhs: BFloat16, rhs: BFloat16) -> BFloat16 {
    BFloat16(lhs.floatValue - rhs.floatValue)
  }

  @inlinable @inline(__always)
  public static func -= (lhs: inout BFloat16, rhs: BFloat16) { lhs = lhs - rhs }

  @inlinable @inline(__always)
  public static func * (lhs: BFloat16, rhs: BFloat16) -> BFloat16 {
    BFloat16(lhs.floatValue * rhs.floatValue)
  }

  @inlinable @inline(__always)
  public static func *= (lhs: inout BFloat16, rhs: BFloat16) { lhs = lhs * rhs }

  @inlinable @inline(__always)
  public static func / (lhs: BFloat16, rhs: BFloat16) -> BFloat16 {
    BFloat16(lhs.floatValue / rhs.floatValue)
  }

  @inlinable @inline(__always)
  public static func /= (lhs: inout BFloat16, rhs: BFloat16) { lhs = lhs / rhs }

  @inlinable @inline(__always)
  public static prefix func - (operand: BFloat16) -> BFloat16 {
    BFloat16(bitPattern: operand.bitPattern ^ 0x8000)
  }

  @inlinable @inline(__always)
  public mutating func negate() { bitPattern ^= 0x8000 }

  /// IEEE remainder; exact, so computing it in Float loses nothing.
  @inlinable
  public mutating func formRemainder(dividingBy other: BFloat16) {
    self = BFloat16(floatValue.remainder(dividingBy: other.floatValue))
  }

  /// Truncating remainder; exact, so computing it in Float loses nothing.
  @inlinable
  public mutating func formTruncatingRemainder(dividingBy other: BFloat16) {
    self = BFloat16(floatValue.truncatingRemainder(dividingBy: other.floatValue))
  }

  @inlinable
  public mutating func formSquareRoot() {
    self = BFloat16(floatValue.squareRoot())
  }

  /// Fused multiply-add `self + lhs * rhs`, rounded once to bfloat16.
  ///
  /// The product of two bfloat16 values is exact in `Double` (16 bits); the sum
  /// is made round-to-odd with an error-free two-sum, then rounded once.
  @inlinable
  public mutating func addProduct(_ lhs: BFloat16, _ rhs: BFloat16) {
    let a = Double(floatValue)
    let product = Double(lhs.floatValue) * Double(rhs.floatValue)
    let sum = a + product
    guard sum.isFinite else {
      self = BFloat16(sum)
      return
    }
    // Two-sum: error is the exact a + product - sum.
    let productPart = sum - a
    let error = (a - (sum - productPart)) + (product - productPart)
    if error == 0 {
      self = BFloat16(sum)
      return
    }
    var bits = sum.bitPattern
    if (error < 0) != (sum < 0) {
      // The sum was rounded away from zero; step back toward zero.
      bits &-= 1
    }
    self = BFloat16(Double(bitPattern: bits | 1))
  }

  @inlinable
  public mutating func round(_ rule: FloatingPointRoundingRule) {
    self = BFloat16(floatValue.rounded(rule))
  }

  @inlinable @inline(__always)
  public func isEqual(to other: BFloat16) -> Bool { floatValue == other.floatValue }

  @inlinable @inline(__always)
  public func isLess(than other: BFloat16) -> Bool { floatValue < other.floatValue }

  @inlinable @inline(__always)
  public func isLessThanOrEqualTo(_ other: BFloat16) -> Bool {
    floatValue <= other.floatValue
  }

  @inlinable @inline(__always)
  public func distance(to other: BFloat16) -> BFloat16 { other - self }

  @inlinable @inline(__always)
  public func advanced(by amount: BFloat16) -> BFloat16 { self + amount }
}

// MARK: - Real (swift-numerics)

extension BFloat16: Real {
  @inlinable public static func exp(_ x: BFloat16) -> BFloat16 { BFloat16(Float.exp(x.floatValue)) }
  @inlinable public static func expMinusOne(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.expMinusOne(x.floatValue))
  }
  @inlinable public static func cosh(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.cosh(x.floatValue))
  }
  @inlinable public static func sinh(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.sinh(x.floatValue))
  }
  @inlinable public static func tanh(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.tanh(x.floatValue))
  }
  @inlinable public static func cos(_ x: BFloat16) -> BFloat16 { BFloat16(Float.cos(x.floatValue)) }
  @inlinable public static func sin(_ x: BFloat16) -> BFloat16 { BFloat16(Float.sin(x.floatValue)) }
  @inlinable public static func tan(_ x: BFloat16) -> BFloat16 { BFloat16(Float.tan(x.floatValue)) }
  @inlinable public static func log(_ x: BFloat16) -> BFloat16 { BFloat16(Float.log(x.floatValue)) }
  @inlinable public static func log(onePlus x: BFloat16) -> BFloat16 {
    BFloat16(Float.log(onePlus: x.floatValue))
  }
  @inlinable public static func acosh(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.acosh(x.floatValue))
  }
  @inlinable public static func asinh(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.asinh(x.floatValue))
  }
  @inlinable public static func atanh(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.atanh(x.floatValue))
  }
  @inlinable public static func acos(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.acos(x.floatValue))
  }
  @inlinable public static func asin(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.asin(x.floatValue))
  }
  @inlinable public static func atan(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.atan(x.floatValue))
  }
  @inlinable public static func pow(_ x: BFloat16, _ y: BFloat16) -> BFloat16 {
    BFloat16(Float.pow(x.floatValue, y.floatValue))
  }
  @inlinable public static func pow(_ x: BFloat16, _ n: Int) -> BFloat16 {
    BFloat16(Float.pow(x.floatValue, n))
  }
  @inlinable public static func sqrt(_ x: BFloat16) -> BFloat16 {
    BFloat16(x.floatValue.squareRoot())
  }
  @inlinable public static func root(_ x: BFloat16, _ n: Int) -> BFloat16 {
    BFloat16(Float.root(x.floatValue, n))
  }
  @inlinable public static func atan2(y: BFloat16, x: BFloat16) -> BFloat16 {
    BFloat16(Float.atan2(y: y.floatValue, x: x.floatValue))
  }
  @inlinable public static func erf(_ x: BFloat16) -> BFloat16 { BFloat16(Float.erf(x.floatValue)) }
  @inlinable public static func erfc(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.erfc(x.floatValue))
  }
  @inlinable public static func exp2(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.exp2(x.floatValue))
  }
  @inlinable public static func exp10(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.exp10(x.floatValue))
  }
  @inlinable public static func hypot(_ x: BFloat16, _ y: BFloat16) -> BFloat16 {
    BFloat16(Float.hypot(x.floatValue, y.floatValue))
  }
  @inlinable public static func gamma(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.gamma(x.floatValue))
  }
  @inlinable public static func log2(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.log2(x.floatValue))
  }
  @inlinable public static func log10(_ x: BFloat16) -> BFloat16 {
    BFloat16(Float.log10(x.floatValue))
  }
  #if !os(Windows)
    @inlinable public static func logGamma(_ x: BFloat16) -> BFloat16 {
      BFloat16(Float.logGamma(x.floatValue))
    }
  #endif
}

// MARK: - Text

extension BFloat16: CustomStringConvertible, CustomDebugStringConvertible,
  LosslessStringConvertible
{
  /// Parses `text` as a `Double` (Swift's `Double(String)` syntax, including
  /// "inf", "nan" and hexadecimal) and rounds that directly to bfloat16.
  @inlinable
  public init?(_ text: String) {
    guard let double = Double(text) else { return nil }
    self.init(double)
  }

  /// The shortest decimal that `BFloat16(String)` reads back as this exact
  /// value, formatted like `Float.description` ("1.0", "0.0039", "3.39e+38",
  /// "inf", "-inf", "nan", "-0.0").
  public var description: String {
    if isNaN { return "nan" }
    if isInfinite { return sign == .minus ? "-inf" : "inf" }
    if isZero { return sign == .minus ? "-0.0" : "0.0" }
    let (digits, count, exponent) = _shortestDigits()
    // Positional like Float below 2^24, except where the shortest digits need trailing zeros that are not the value's
    // own: 2555904 is `2.56e+06`, not `2560000.0`, which would claim seven digits that bfloat16 does not have.
    var positional = magnitude.floatValue <= 0x1.0p24
    if positional && exponent > 0 {
      var scaled = Double(digits)
      for _ in 0..<exponent { scaled *= 10 }
      positional = scaled == Double(magnitude.floatValue)
    }
    return BFloat16._format(
      negative: sign == .minus, digits: digits, count: count, exponent: exponent, positional: positional)
  }

  /// Like `description`, but shows NaN sign, signaling and payload, as
  /// `Float.debugDescription` does ("-nan", "snan", "nan(0x3)").
  public var debugDescription: String {
    guard isNaN else { return description }
    var text = sign == .minus ? "-" : ""
    text += isSignalingNaN ? "snan" : "nan"
    // Like Float, the payload excludes the quiet bit and the bit that
    // `signalingNaN` sets to stay distinct from infinity.
    let payload = bitPattern & 0x1F
    if payload != 0 { text += "(0x" + String(payload, radix: 16) + ")" }
    return text
  }

  /// Shortest round-tripping decimal of a finite nonzero value, as an integer
  /// `digits` with `count` decimal digits (no trailing zeros) and a power of
  /// ten `exponent`, so the value is `digits * 10^exponent`.
  func _shortestDigits() -> (digits: UInt64, count: Int, exponent: Int) {
    // Double's shortest representation has at most 17 significant digits and
    // approximates the exact value to better than 1e-16 relative; the floor and
    // ceiling of those digits at each shorter length are (up to a boundary that
    // itself round-trips) the two candidates nearest the exact value.
    // Double's digits, written into a stack buffer (a `String` of them would be a heap allocation past 15 bytes).
    var text = _ASCIIDigits()
    Double(magnitude.floatValue).write(to: &text)
    var (full, exponent) = text.withBytes { BFloat16._parseDecimal($0) }
    while full % 10 == 0 && full != 0 {
      full /= 10
      exponent += 1
    }
    var count = 1
    var power: UInt64 = 10
    while power <= full && count < 19 {
      count += 1
      power = power &* 10
    }
    let target = bitPattern & 0x7FFF
    var scale: UInt64 = 1
    for _ in 1..<count { scale *= 10 }
    for length in 1..<count {
      let shift = count - length
      let low = full / scale
      let rest = full % scale
      let lowOK = BFloat16._roundTrips(low, exponent + shift, target)
      let highOK = BFloat16._roundTrips(low + 1, exponent + shift, target)
      if lowOK || highOK {
        let chooseHigh = highOK && (!lowOK || rest > scale - rest)
        return BFloat16._normalize(chooseHigh ? low + 1 : low, exponent + shift)
      }
      scale /= 10
    }
    return (full, count, exponent)
  }

  /// Whether `digits * 10^exponent` parses (via Double) back to `target`.
  static func _roundTrips(_ digits: UInt64, _ exponent: Int, _ target: UInt16) -> Bool {
    guard let double = Double("\(digits)e\(exponent)") else { return false }
    return BFloat16(double).bitPattern == target
  }

  /// Strips trailing zeros and counts digits.
  static func _normalize(_ digits: UInt64, _ exponent: Int) -> (
    digits: UInt64, count: Int, exponent: Int
  ) {
    var digits = digits
    var exponent = exponent
    while digits % 10 == 0 && digits != 0 {
      digits /= 10
      exponent += 1
    }
    var count = 1
    var rest = digits / 10
    while rest != 0 {
      count += 1
      rest /= 10
    }
    return (digits, count, exponent)
  }

  /// Reads a Swift `Double.description` of a finite positive number into an
  /// integer significand and a power-of-ten exponent.
  static func _parseDecimal(_ text: some Sequence<UInt8>) -> (UInt64, Int) {
    var digits: UInt64 = 0
    var fractionDigits = 0
    var seenPoint = false
    var exponent = 0
    var exponentNegative = false
    var inExponent = false
    for byte in text {
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"):
        let value = Int(byte - UInt8(ascii: "0"))
        if inExponent {
          exponent = exponent * 10 + value
        } else {
          digits = digits &* 10 &+ UInt64(value)
          if seenPoint { fractionDigits += 1 }
        }
      case UInt8(ascii: "."): seenPoint = true
      case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
      case UInt8(ascii: "-"): if inExponent { exponentNegative = true }
      default: break
      }
    }
    return (digits, (exponentNegative ? -exponent : exponent) - fractionDigits)
  }

  /// Formats `digits * 10^exponent` the way Swift formats `Float`: positional
  /// for 1e-4 <= |x| <= 2^24, otherwise "d.ddde+XX".
  static func _format(
    negative: Bool, digits: UInt64, count: Int, exponent: Int, positional: Bool
  ) -> String {
    let digitText = String(digits)
    var text = negative ? "-" : ""
    let scientific = exponent + count - 1
    if scientific >= -4 && positional {
      if scientific >= 0 {
        if count <= scientific + 1 {
          text += digitText
          text += String(repeating: "0", count: scientific + 1 - count)
          text += ".0"
        } else {
          let split = digitText.index(digitText.startIndex, offsetBy: scientific + 1)
          text += digitText[..<split]
          text += "."
          text += digitText[split...]
        }
      } else {
        text += "0."
        text += String(repeating: "0", count: -scientific - 1)
        text += digitText
      }
    } else {
      let first = digitText.index(after: digitText.startIndex)
      text += digitText[..<first]
      if count > 1 {
        text += "."
        text += digitText[first...]
      }
      text += scientific < 0 ? "e-" : "e+"
      let magnitude = scientific.magnitude
      if magnitude < 10 { text += "0" }
      text += String(magnitude)
    }
    return text
  }
}

/// Up to 32 ASCII bytes on the stack, as a text stream: the standard library writes a `Double`'s digits into it
/// through `_writeASCII` without building a `String`.
struct _ASCIIDigits: TextOutputStream {
  private var storage: (SIMD16<UInt8>, SIMD16<UInt8>) = (.zero, .zero)
  private var count = 0

  mutating func write(_ string: String) { for b in string.utf8 { append(b) } }

  mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { for b in buffer { append(b) } }

  private mutating func append(_ byte: UInt8) {
    guard count < 32 else { return }
    let at = count
    withUnsafeMutableBytes(of: &storage) { $0[at] = byte }
    count += 1
  }

  func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    withUnsafeBytes(of: storage) { raw in body(UnsafeBufferPointer(rebasing: raw.bindMemory(to: UInt8.self)[..<count]))
    }
  }
}
