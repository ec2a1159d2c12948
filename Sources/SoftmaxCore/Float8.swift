/// The two 8-bit floating-point formats of the OCP 8-bit Floating Point Specification (OFP8, revision 1.0): the
/// codes, their values, and rounding into them. A code is `S.E…E.M…M`, sign, exponent and mantissa bits.
///
/// - `e4m3`: 4 exponent bits (bias 7), 3 mantissa bits. No infinities: only `S.1111.111` is NaN, so the top binade
///   holds numbers up to `S.1111.110` = 448. An overflow is NaN, or 448 when saturating.
/// - `e5m2`: 5 exponent bits (bias 15), 2 mantissa bits, IEEE 754-like: `S.11111.00` is ±∞ and `S.11111.{01,10,11}`
///   are NaN; the largest finite value is `S.11110.11` = 57,344. An overflow is ±∞, or 57,344 when saturating.
///
/// Both have subnormals (exponent field 0) and signed zeros. Rounding is to nearest, ties to even.
public enum Float8Format: String, Sendable, CaseIterable {
  case e4m3
  case e5m2

  /// Mantissa bits and exponent bias.
  public var mantissaBits: Int { self == .e4m3 ? 3 : 2 }
  var exponentBits: Int { self == .e4m3 ? 4 : 5 }
  public var bias: Int { self == .e4m3 ? 7 : 15 }
  /// The exponent of the least normal number (`1 − bias`).
  public var minimumExponent: Int { 1 - bias }
  /// Whether the format has infinities.
  public var hasInfinity: Bool { self == .e5m2 }

  /// The largest finite value: 448 (e4m3) or 57,344 (e5m2).
  public var greatestFinite: Double { self == .e4m3 ? 448 : 57_344 }
  /// The least positive normal and subnormal values.
  public var leastNormal: Double { Double(sign: .plus, exponent: minimumExponent, significand: 1) }
  public var leastNonzero: Double { Double(sign: .plus, exponent: minimumExponent - mantissaBits, significand: 1) }

  /// The canonical (positive, quiet) NaN code.
  public var nanCode: UInt8 { 0x7F }
  /// The code of +∞ (e5m2 only).
  public var infinityCode: UInt8? { self == .e5m2 ? 0x7C : nil }

  /// The value of `code` (exactly: every code's value is a `Double`).
  public func value(_ code: UInt8) -> Double {
    let negative = code & 0x80 != 0
    let m = Int(code) & ((1 << mantissaBits) - 1)
    let e = (Int(code) >> mantissaBits) & ((1 << exponentBits) - 1)
    let top = (1 << exponentBits) - 1
    let magnitude: Double
    switch self {
    case .e4m3 where e == top && m == (1 << mantissaBits) - 1: return .nan
    case .e5m2 where e == top: if m != 0 { return .nan } else { magnitude = .infinity }
    default:
      // Subnormal: 0.m × 2^emin; normal: 1.m × 2^(e − bias).
      let significand = e == 0 ? m : (1 << mantissaBits) | m
      magnitude =
        Double(significand) * Double(sign: .plus, exponent: Swift.max(e, 1) - bias - mantissaBits, significand: 1)
    }
    return negative ? -magnitude : magnitude
  }

  /// `x` rounded to the nearest value of the format, ties to even. A NaN stays NaN; beyond the largest finite value
  /// the result is ±∞ for e5m2 and NaN for e4m3 unless `saturating`, when it is ±``greatestFinite`` (an infinite `x`
  /// too, as saturating hardware converts it).
  public func round(_ x: Double, saturating: Bool = false) -> Double {
    if x.isNaN { return .nan }
    let a = abs(x)
    let rounded: Double
    if a.isInfinite {
      rounded = .infinity
    } else if a < leastNormal {
      // The subnormal grid, spaced by the least nonzero value.
      rounded = (a / leastNonzero).rounded(.toNearestOrEven) * leastNonzero
    } else {
      let quantum = Double(sign: .plus, exponent: a.exponent - mantissaBits, significand: 1)
      rounded = (a / quantum).rounded(.toNearestOrEven) * quantum
    }
    let overflowed = rounded > greatestFinite
    let magnitude = !overflowed ? rounded : saturating ? greatestFinite : hasInfinity ? .infinity : .nan
    return x.sign == .minus ? -magnitude : magnitude
  }

  /// The code of `x` rounded into the format (see ``round(_:saturating:)``); every NaN is the canonical NaN.
  public func code(_ x: Double, saturating: Bool = false) -> UInt8 {
    let r = round(x, saturating: saturating)
    if r.isNaN { return nanCode }
    let sign: UInt8 = r.sign == .minus ? 0x80 : 0
    let a = abs(r)
    if a.isInfinite { return sign | (infinityCode ?? nanCode) }
    if a < leastNormal { return sign | UInt8(a / leastNonzero) }
    let e = a.exponent
    let m = Int((a / Double(sign: .plus, exponent: e, significand: 1) - 1) * Double(1 << mantissaBits))
    return sign | UInt8(((e + bias) << mantissaBits) | m)
  }
}
