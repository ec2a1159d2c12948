import RealModule
import Testing

@testable import SoftmaxCore

// MARK: - Helpers

/// Bit-level reference: rounds a Double to bfloat16 (nearest, ties to even)
/// with integer arithmetic on the Double's fields, independent of the
/// implementation's round-to-odd method.
private func referenceBits(_ value: Double) -> UInt16 {
  let signBit: UInt16 = value.sign == .minus ? 0x8000 : 0
  if value.isNaN { return signBit | 0x7FC0 }
  if value.isInfinite { return signBit | 0x7F80 }
  if value == 0 { return signBit }
  let bits = value.bitPattern
  let biased = Int((bits >> 52) & 0x7FF)
  let fraction = bits & ((1 << 52) - 1)
  let m: UInt64 = biased == 0 ? fraction : fraction | (1 << 52)
  let e = biased == 0 ? -1074 : biased - 1075
  // value == m * 2^e; the leading bit has weight 2^lead.
  let lead = e + (63 - m.leadingZeroBitCount)
  let quantum = max(lead - 7, -133)
  var n: UInt64
  if quantum <= e {
    n = m << UInt64(e - quantum)
  } else {
    let shift = quantum - e
    if shift >= 64 {
      n = 0
    } else {
      n = m >> UInt64(shift)
      let rest = m & ((1 << UInt64(shift)) - 1)
      let half: UInt64 = 1 << UInt64(shift - 1)
      if rest > half || (rest == half && n & 1 == 1) { n += 1 }
    }
  }
  // n * 2^quantum is exactly a Float (or overflows to infinity).
  let float = Float(sign: .plus, exponent: quantum, significand: Float(n))
  return signBit | UInt16(truncatingIfNeeded: float.bitPattern >> 16)
}

private func sameBits(_ a: BFloat16, _ b: BFloat16) -> Bool {
  (a.isNaN && b.isNaN) || a.bitPattern == b.bitPattern
}

private var allPatterns: [BFloat16] { (0...UInt16.max).map { BFloat16(bitPattern: $0) } }

private struct BF16TestRNG: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// A random finite bfloat16 (any bit pattern that is not inf/NaN).
private func randomFinite(_ rng: inout BF16TestRNG) -> BFloat16 {
  while true {
    let x = BFloat16(bitPattern: UInt16(truncatingIfNeeded: rng.next()))
    if x.isFinite { return x }
  }
}

// MARK: - Rounding from Float

@Test func roundingFromFloatTiesToEven() {
  // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: even (1) wins.
  #expect(BFloat16(Float(bitPattern: 0x3F80_8000)).bitPattern == 0x3F80)
  // Halfway with an odd lower neighbour rounds up to the even one.
  #expect(BFloat16(Float(bitPattern: 0x3F81_8000)).bitPattern == 0x3F82)
  // Just above / below halfway.
  #expect(BFloat16(Float(bitPattern: 0x3F80_8001)).bitPattern == 0x3F81)
  #expect(BFloat16(Float(bitPattern: 0x3F80_7FFF)).bitPattern == 0x3F80)
  // Negative values mirror positive ones.
  #expect(BFloat16(Float(bitPattern: 0xBF81_8000)).bitPattern == 0xBF82)
  #expect(BFloat16(Float(bitPattern: 0xBF80_8000)).bitPattern == 0xBF80)
  // Subnormals use the same bit rounding.
  #expect(BFloat16(Float(bitPattern: 0x0000_8000)).bitPattern == 0x0000)
  #expect(BFloat16(Float(bitPattern: 0x0001_8000)).bitPattern == 0x0002)
  #expect(BFloat16(Float(bitPattern: 0x0000_8001)).bitPattern == 0x0001)
  #expect(BFloat16(Float.leastNonzeroMagnitude).bitPattern == 0)
  // Largest subnormal rounds up into the least normal.
  #expect(BFloat16(Float(bitPattern: 0x007F_C000)) == .leastNormalMagnitude)
}

@Test func roundingFromFloatCarriesIntoExponent() {
  // 1.99609375 (0x3FFF8000) is halfway with an odd lower neighbour: carries to 2.
  #expect(BFloat16(Float(bitPattern: 0x3FFF_8000)) == 2)
  #expect(BFloat16(Float(bitPattern: 0x3FFF_FFFF)) == 2)
  #expect(BFloat16(Float(bitPattern: 0xBFFF_FFFF)) == -2)
}

@Test func roundingFromFloatOverflowAndSpecials() {
  #expect(BFloat16(Float.greatestFiniteMagnitude) == .infinity)
  #expect(BFloat16(-Float.greatestFiniteMagnitude) == -.infinity)
  // Halfway between the largest finite bfloat16 and 2^128 rounds to infinity.
  #expect(BFloat16(Float(bitPattern: 0x7F7F_8000)) == .infinity)
  #expect(BFloat16(Float(bitPattern: 0x7F7F_7FFF)) == .greatestFiniteMagnitude)
  #expect(BFloat16(Float.infinity) == .infinity)
  #expect(BFloat16(-Float.infinity) == -.infinity)
  #expect(BFloat16(Float.nan).isNaN)
  #expect(!BFloat16(Float.nan).isSignalingNaN)
  #expect(BFloat16(Float.signalingNaN).isNaN)
  #expect(!BFloat16(Float.signalingNaN).isSignalingNaN)
  // A NaN whose payload lies entirely in the dropped bits must stay NaN.
  #expect(BFloat16(Float(bitPattern: 0x7F80_0001)).isNaN)
  #expect(BFloat16(Float(bitPattern: 0xFF80_0001)).isNaN)
  #expect(BFloat16(-Float.nan).sign == .minus)
  #expect(BFloat16(Float(-0.0)).bitPattern == 0x8000)
}

@Test func roundingFromFloatMatchesReference() {
  var rng = BF16TestRNG(state: 1)
  for _ in 0..<200_000 {
    let f = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
    let expected = referenceBits(Double(f))
    let got = BFloat16(f)
    #expect(got.isNaN == f.isNaN)
    if !f.isNaN && got.bitPattern != expected {
      Issue.record("Float \(f) (\(f.bitPattern)): got \(got.bitPattern), expected \(expected)")
      return
    }
  }
}

@Test func wideningIsExactForAllPatterns() {
  for x in allPatterns {
    #expect(BFloat16(x.floatValue).bitPattern == x.bitPattern || x.isNaN)
    #expect(Float(x).bitPattern == UInt32(x.bitPattern) << 16)
    if x.isFinite {
      #expect(BFloat16(Double(x)).bitPattern == x.bitPattern)
    }
  }
}

// MARK: - Rounding from Double

@Test func roundingFromDoubleMatchesBitReference() {
  var rng = BF16TestRNG(state: 42)
  var checked = 0
  for i in 0..<300_000 {
    let d: Double
    switch i % 3 {
    case 0:
      // Any bit pattern at all.
      d = Double(bitPattern: rng.next())
    case 1:
      // Exponents around bfloat16's range, random fraction.
      let exponent = Int(rng.next() % 290) - 150
      let fraction = rng.next() & ((1 << 52) - 1)
      let sign: UInt64 = rng.next() & 1 == 0 ? 0 : 1 << 63
      d = Double(bitPattern: sign | (UInt64(exponent + 1023) << 52) | fraction)
    default:
      // Near-halfway cases: a bfloat16 plus half an ulp, nudged by a few Double ulps.
      let x = randomFinite(&rng)
      let half = Double(x.ulp) / 2
      var candidate = Double(x) + (x.sign == .minus ? -half : half)
      let nudge = Int(rng.next() % 5) - 2
      for _ in 0..<abs(nudge) { candidate = nudge > 0 ? candidate.nextUp : candidate.nextDown }
      d = candidate
    }
    let got = BFloat16(d)
    let expected = referenceBits(d)
    if d.isNaN {
      #expect(got.isNaN)
    } else if got.bitPattern != expected {
      Issue.record("Double \(d) (\(d.bitPattern)): got \(got.bitPattern), expected \(expected)")
      return
    }
    checked += 1
  }
  #expect(checked == 300_000)
}

@Test func roundingFromDoubleAvoidsDoubleRounding() {
  // 1 + 2^-8 + 2^-40 is just above halfway between 1 and 1 + 2^-7.
  let d = 1 + 0x1p-8 + 0x1p-40
  #expect(BFloat16(d) == BFloat16(1.0078125))
  // Going through Float first rounds to the exact halfway point, then to even.
  #expect(BFloat16(Float(d)) == 1)
  #expect(referenceBits(d) == BFloat16(d).bitPattern)
  // Same below halfway with a negative sign.
  let e = -(1 + 0x1p-8 - 0x1p-40)
  #expect(BFloat16(e) == -1)
  // Overflow threshold: exactly halfway past the largest finite rounds to inf,
  // anything less rounds to the largest finite.
  let threshold = 0x1.FFp127
  #expect(BFloat16(threshold) == .infinity)
  #expect(BFloat16(threshold.nextDown) == .greatestFiniteMagnitude)
  #expect(BFloat16(Double.greatestFiniteMagnitude) == .infinity)
  #expect(BFloat16(0x1p-134) == 0)
  #expect(BFloat16(0x1p-134.nextUp) == .leastNonzeroMagnitude)
  #expect(BFloat16(Double.leastNonzeroMagnitude) == 0)
  #expect(BFloat16(-Double.leastNonzeroMagnitude).bitPattern == 0x8000)
  #expect(BFloat16(Double.nan).isNaN)
  #expect(BFloat16(-Double.infinity) == -.infinity)
}

@Test func roundingFromOtherTypes() {
  #if !(os(Windows) || os(Android)) && (arch(i386) || arch(x86_64))
    let wide: Float80 = 1 + 0x1p-8 + 0x1p-60
    #expect(BFloat16(wide) == BFloat16(1.0078125))
    #expect(BFloat16(Float80.greatestFiniteMagnitude) == .infinity)
    #expect(BFloat16(Float80.leastNonzeroMagnitude) == 0)
    #expect(BFloat16(Float80(0x1p-134)) == 0)
    #expect(BFloat16(Float80(0x1p-134).nextUp) == .leastNonzeroMagnitude)
    let generic: some BinaryFloatingPoint = wide
    #expect(BFloat16(generic) == BFloat16(1.0078125))
  #endif
  #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
    let half: Float16 = 1.00390625
    #expect(BFloat16(half) == 1)
    #expect(BFloat16(Float16.infinity) == .infinity)
  #endif
  // Integers: correctly rounded, no double rounding through Double.
  #expect(BFloat16(257) == 256)
  #expect(BFloat16(259) == 260)
  let justAboveTie: Int = (1 << 24) + (1 << 16) + 1
  #expect(BFloat16(justAboveTie) == BFloat16(Float(0x1p24 + 0x1p17)))
  let big: Int = (1 << 60) + (1 << 52) + 1
  #expect(BFloat16(big) == BFloat16(0x1p60 + 0x1p53))
  #expect(BFloat16(Double(big)) == BFloat16(0x1p60))  // Double itself double-rounds
  #expect(BFloat16(UInt64.max) == BFloat16(0x1p64))
  #expect(BFloat16(Int64.min) == BFloat16(-0x1p63))
  #expect(BFloat16(Int8(-3)) == -3)
  #expect(BFloat16(exactly: 257) == nil)
  #expect(BFloat16(exactly: 256) == 256)
  #expect(BFloat16(exactly: 0.1) == nil)
  #expect(BFloat16(exactly: 0.5) == 0.5)
  var rng = BF16TestRNG(state: 7)
  for _ in 0..<50_000 {
    let i = Int64(bitPattern: rng.next()) >> (rng.next() % 63)
    // |i| < 2^53 after the shift often; use the exact Double then the reference.
    if i.magnitude < 1 << 53 {
      #expect(BFloat16(i).bitPattern == referenceBits(Double(i)))
    }
  }
  // Literals and strings.
  let literal: BFloat16 = 0.1
  #expect(literal == BFloat16(0.1 as Double))
  #expect(BFloat16("3.5") == 3.5)
  #expect(BFloat16("inf") == .infinity)
  #expect(BFloat16("abc") == nil)
}

// MARK: - Arithmetic

@Test func arithmeticMatchesRoundedFloat() {
  var rng = BF16TestRNG(state: 3)
  for _ in 0..<100_000 {
    let x = BFloat16(bitPattern: UInt16(truncatingIfNeeded: rng.next()))
    let y = BFloat16(bitPattern: UInt16(truncatingIfNeeded: rng.next()))
    let a = x.floatValue
    let b = y.floatValue
    #expect(sameBits(x + y, BFloat16(a + b)))
    #expect(sameBits(x - y, BFloat16(a - b)))
    #expect(sameBits(x * y, BFloat16(a * b)))
    #expect(sameBits(x / y, BFloat16(a / b)))
    #expect(sameBits(x.squareRoot(), BFloat16(a.squareRoot())))
    #expect(sameBits(x.remainder(dividingBy: y), BFloat16(a.remainder(dividingBy: b))))
    #expect(
      sameBits(
        x.truncatingRemainder(dividingBy: y), BFloat16(a.truncatingRemainder(dividingBy: b))))
    // The product of two bfloat16 values is exact in Double, so this checks that
    // multiplication is correctly rounded (the Float double rounding is harmless).
    #expect(sameBits(x * y, BFloat16(Double(x) * Double(y))))
    // Sums that are exact in Double give the correctly rounded reference.
    let sum = Double(x) + Double(y)
    if sum.isFinite && sum - Double(x) == Double(y) && sum - Double(y) == Double(x) {
      #expect(sameBits(x + y, BFloat16(sum)))
    }
  }
  var z: BFloat16 = 1
  z += 2
  z *= 3
  z -= 1
  z /= 4
  #expect(z == 2)
  #expect(-z == -2)
  #expect((-BFloat16.zero).bitPattern == 0x8000)
  #expect(BFloat16(7).remainder(dividingBy: 2) == -1)
  #expect(BFloat16(7).truncatingRemainder(dividingBy: 2) == 1)
  #expect(BFloat16(2.5).rounded() == 3)
  #expect(BFloat16(2.5).rounded(.toNearestOrEven) == 2)
  #expect(BFloat16(-2.5).rounded(.towardZero) == -2)
  #expect(BFloat16(-2.5).rounded(.down) == -3)
}

@Test func fusedMultiplyAdd() {
  // b*c = 1 + 2^-6 + 2^-14 exactly; unfused, b*c rounds to 1 + 2^-6 first.
  let b = BFloat16(1.0078125)
  let a = -BFloat16(1.015625)
  #expect(a.addingProduct(b, b) == BFloat16(0x1p-14))
  #expect(a + b * b == 0)
  // 9 * (29/256) = 261/256 is a bfloat16 tie; a tiny addend decides it, even
  // though it is lost when the sum is rounded to Double.
  let nine: BFloat16 = 9
  let c = BFloat16(29.0 / 256)
  let tiny = BFloat16(0x1p-100)
  #expect(BFloat16.zero.addingProduct(nine, c) == BFloat16(1.015625))
  #expect(tiny.addingProduct(nine, c) == BFloat16(1.0234375))
  #expect((-tiny).addingProduct(nine, c) == BFloat16(1.015625))
  #expect(tiny.addingProduct(-nine, c) == BFloat16(-1.015625))
  #expect((-tiny).addingProduct(-nine, c) == BFloat16(-1.0234375))
  #expect(BFloat16.infinity.addingProduct(1, 1) == .infinity)
  #expect(BFloat16.infinity.addingProduct(-.infinity, 1).isNaN)
  #expect(BFloat16.greatestFiniteMagnitude.addingProduct(.greatestFiniteMagnitude, 2) == .infinity)
  // Random cases whose Double sum is exact must match the once-rounded reference.
  var rng = BF16TestRNG(state: 11)
  for _ in 0..<50_000 {
    let x = randomFinite(&rng)
    let y = randomFinite(&rng)
    let w = randomFinite(&rng)
    let product = Double(y) * Double(w)
    let sum = Double(x) + product
    let bb = sum - Double(x)
    let err = (Double(x) - (sum - bb)) + (product - bb)
    let fused = x.addingProduct(y, w)
    if sum.isFinite && err == 0 {
      #expect(fused.bitPattern == referenceBits(sum) || (fused.isZero && sum == 0))
    }
  }
}

// MARK: - Real

private func genericExp<T: Real>(_ x: T) -> T { .exp(x) }
private func softmaxPair<T: Real>(_ a: T, _ b: T) -> T {
  let m = max(a, b)
  return .exp(a - m) / (.exp(a - m) + .exp(b - m))
}

@Test func elementaryFunctionsRoundFloatResults() {
  let values: [BFloat16] = [-10, -1, -0.5, 0, 0.25, 0.5, 1, 2, 3.140625, 10, 88]
  for x in values {
    let f = x.floatValue
    #expect(sameBits(BFloat16.exp(x), BFloat16(Float.exp(f))))
    #expect(sameBits(BFloat16.log(x), BFloat16(Float.log(f))))
    #expect(sameBits(BFloat16.expMinusOne(x), BFloat16(Float.expMinusOne(f))))
    #expect(sameBits(BFloat16.log(onePlus: x), BFloat16(Float.log(onePlus: f))))
    #expect(sameBits(BFloat16.tanh(x), BFloat16(Float.tanh(f))))
    #expect(sameBits(BFloat16.sin(x), BFloat16(Float.sin(f))))
    #expect(sameBits(BFloat16.pow(x, 3), BFloat16(Float.pow(f, 3))))
    #expect(sameBits(BFloat16.sqrt(x), BFloat16(f.squareRoot())))
    #expect(sameBits(genericExp(x), BFloat16(Float.exp(f))))
  }
  #expect(BFloat16.exp(0) == 1)
  #expect(BFloat16.log(1) == 0)
  #expect(BFloat16.exp(100) == .infinity)
  #expect(BFloat16.log(0) == -.infinity)
  #expect(BFloat16.log(-1).isNaN)
  #expect(softmaxPair(BFloat16(1), BFloat16(1)) == 0.5)
  #expect(BFloat16.hypot(3, 4) == 5)
  #expect(BFloat16.atan2(y: 1, x: 1) == BFloat16(Float.pi / 4))
  #expect(BFloat16.signGamma(-0.5) == .minus)
}

// MARK: - Constants and format properties

@Test func constants() {
  #expect(Double(BFloat16.greatestFiniteMagnitude) == 3.3895313892515355e38)
  #expect(BFloat16.greatestFiniteMagnitude.bitPattern == 0x7F7F)
  #expect(BFloat16.ulpOfOne == BFloat16(0x1p-7))
  #expect(BFloat16(1).ulp == BFloat16.ulpOfOne)
  #expect(Double(BFloat16.leastNonzeroMagnitude) == 0x1p-133)
  #expect(Double(BFloat16.leastNormalMagnitude) == 0x1p-126)
  #expect(BFloat16.pi.bitPattern == 0x4049)
  #expect(Double(BFloat16.pi) < Double.pi && Double(BFloat16.pi.nextUp) > Double.pi)
  #expect(BFloat16.infinity.isInfinite && BFloat16.infinity > .greatestFiniteMagnitude)
  #expect(BFloat16.nan.isNaN && !BFloat16.nan.isSignalingNaN)
  #expect(BFloat16.signalingNaN.isSignalingNaN)
  #expect(BFloat16.exponentBitCount == 8)
  #expect(BFloat16.significandBitCount == 7)
  #expect(BFloat16.radix == 2)
  #expect(BFloat16(1).exponentBitPattern == 127)
  #expect(BFloat16(1.5).significandBitPattern == 0x40)
  #expect(BFloat16(sign: .minus, exponentBitPattern: 128, significandBitPattern: 0x40) == -3)
  #expect(BFloat16(sign: .plus, exponent: -133, significand: 1) == .leastNonzeroMagnitude)
  #expect(BFloat16(sign: .plus, exponent: 200, significand: 1) == .infinity)
  #expect(BFloat16(signOf: -1, magnitudeOf: 2) == -2)
  #expect(BFloat16(6).exponent == 2 && BFloat16(6).significand == 1.5)
  #expect(BFloat16.leastNonzeroMagnitude.exponent == -133)
  #expect(BFloat16(6).binade == 4)
  #expect(BFloat16(1.5).significandWidth == 1)
  #expect(BFloat16(bitPattern: 0x0003).significandWidth == 1)
  #expect(BFloat16(bitPattern: 0x0003).isSubnormal)
  #expect(BFloat16(1).isNormal && !BFloat16(0).isNormal && BFloat16(-0.0).isZero)
  #expect(BFloat16(1).nextDown == BFloat16(1 - 0x1p-8))
  #expect(BFloat16(2).distance(to: 3) == 1)
  #expect(BFloat16(2).advanced(by: 0.5) == 2.5)
  #expect(Array(stride(from: BFloat16(0), to: 1, by: 0.25)) == [0, 0.25, 0.5, 0.75])
}

@Test func ulpAndNextUpForAllPatterns() {
  for x in allPatterns where x.isFinite {
    // Bit-based properties agree with the Float view of the same value.
    #expect(x.isNormal == x.floatValue.isNormal)
    #expect(x.isSubnormal == x.floatValue.isSubnormal)
    #expect(x.exponent == x.floatValue.exponent)
    let expectedULP =
      x.isZero || x.exponent < -126
      ? 0x1p-133 : Double(sign: .plus, exponent: x.exponent - 7, significand: 1)
    #expect(Double(x.ulp) == expectedULP)
    let up = x.nextUp
    if x.isZero {
      #expect(up == .leastNonzeroMagnitude)
    } else if x == -.leastNonzeroMagnitude {
      #expect(up.bitPattern == 0x8000)
    } else if x == .greatestFiniteMagnitude {
      #expect(up == .infinity)
    } else {
      #expect(up > x)
      // Nothing lies between x and x.nextUp: their midpoint rounds to one of them.
      let mid = (Double(x) + Double(up)) / 2
      let rounded = BFloat16(mid)
      #expect(rounded == x || rounded == up)
      if x.sign == .plus { #expect(Double(up) - Double(x) == expectedULP) }
    }
  }
  #expect(BFloat16.infinity.nextUp == .infinity)
  #expect((-BFloat16.infinity).nextUp == -.greatestFiniteMagnitude)
  #expect(BFloat16.nan.nextUp.isNaN)
  #expect(BFloat16.infinity.ulp.isNaN)
}

@Test func hashingAndEquality() {
  #expect(BFloat16(0) == BFloat16(-0.0))
  #expect(BFloat16(0).hashValue == BFloat16(-0.0).hashValue)
  #expect(Set([BFloat16(0), BFloat16(-0.0), 1, 1.0]).count == 2)
  let quiet = BFloat16(bitPattern: 0x7FC0)
  let one: BFloat16 = 1
  #expect(quiet != quiet)
  #expect(!(quiet < one) && !(quiet >= one) && !(quiet <= one) && !(quiet > one))
  #expect(BFloat16(1) < 2 && BFloat16(2) >= 2 && BFloat16(-1) <= -1)
  #expect(BFloat16.minimum(1, .nan) == 1)
}

// MARK: - Text

@Test func descriptionExamples() {
  #expect(BFloat16(1).description == "1.0")
  #expect(BFloat16(0.00390625).description == "0.0039")
  #expect(BFloat16.greatestFiniteMagnitude.description == "3.39e+38")
  #expect((-BFloat16.greatestFiniteMagnitude).description == "-3.39e+38")
  #expect(BFloat16.infinity.description == "inf")
  #expect((-BFloat16.infinity).description == "-inf")
  #expect(BFloat16.nan.description == "nan")
  #expect(BFloat16(-0.0).description == "-0.0")
  #expect(BFloat16(0).description == "0.0")
  #expect(BFloat16(0.1).description == "0.1")
  #expect(BFloat16(-2.5).description == "-2.5")
  #expect(BFloat16(256).description == "256.0")
  #expect(BFloat16(258).description == "258.0")
  #expect(BFloat16(1000).description == "1000.0")
  #expect(BFloat16(0.0001).description == "0.0001")
  #expect(BFloat16(0.00001).description == "1e-05")
  #expect(BFloat16(3.0e10).description == "3e+10")
  #expect(BFloat16.pi.description == "3.14")
  #expect(BFloat16.leastNonzeroMagnitude.description == "9e-41")
  #expect(BFloat16.leastNormalMagnitude.description == "1.18e-38")
  #expect(BFloat16.nan.debugDescription == "nan")
  #expect((-BFloat16.nan).debugDescription == "-nan")
  #expect(BFloat16.signalingNaN.debugDescription == "snan")
  #expect(BFloat16(bitPattern: 0x7FC3).debugDescription == "nan(0x3)")
  #expect(BFloat16(1.5).debugDescription == "1.5")
  #expect("\(BFloat16(0.5))" == "0.5")
}

/// Independent shortest-length search: candidates from a Float80 scaling of
/// the value, with a generous neighbourhood.
private func independentShortestLength(_ x: BFloat16) -> Int {
  let value = abs(Double(x))
  let decimalExponent = Int((value.exponent * 30103) / 100_000)
  for digits in 1...17 {
    for e in (decimalExponent - 2)...(decimalExponent + 2) {
      let scale = e - digits + 1
      let scaled = Double("1e\(-scale)")!
      let m = (value * scaled).rounded(.down)
      guard m.isFinite, m < 1e18 else { continue }
      for delta in -1...2 {
        let candidate = m + Double(delta)
        if candidate <= 0 { continue }
        if candidate >= Double("1e\(digits)")! { continue }
        let text = "\(UInt64(candidate))e\(scale)"
        if let back = BFloat16(text), back.bitPattern == x.magnitude.bitPattern {
          return digits
        }
      }
    }
  }
  return 99
}

private func significantDigits(_ text: String) -> Int {
  var mantissa = Substring(text)
  if let e = mantissa.firstIndex(of: "e") { mantissa = mantissa[..<e] }
  let digits = mantissa.filter(\.isNumber).drop(while: { $0 == "0" })
  return max(String(digits.reversed()).drop(while: { $0 == "0" }).count, 1)
}

@Test func descriptionRoundTripsForAllFinitePatterns() {
  var count = 0
  for x in allPatterns where x.isFinite {
    let text = x.description
    guard let back = BFloat16(text) else {
      Issue.record("\(x.bitPattern): \(text) does not parse")
      continue
    }
    #expect(back.bitPattern == x.bitPattern, "\(x.bitPattern): \(text)")
    // Never longer than Float's own shortest digits, which also round-trip.
    if !x.isZero {
      let ours = significantDigits(text)
      #expect(ours <= significantDigits(x.floatValue.description), "\(text)")
      // And exactly as short as an independent search finds.
      #expect(ours == independentShortestLength(x), "\(x.bitPattern): \(text)")
    }
    count += 1
  }
  #expect(count == 65536 - 256)
}
