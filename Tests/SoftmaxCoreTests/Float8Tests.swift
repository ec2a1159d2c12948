import Testing

@testable import SoftmaxCore

/// The OCP 8-bit formats, exhaustively: every one of the 256 codes, every midpoint between neighbours, and the
/// overflow rules, against a reference that knows nothing of the encoding but the table of values.
@Suite("float8 (OCP OFP8): e4m3 and e5m2")
struct Float8Tests {
  /// The values of the 256 codes, computed from the bit layout by hand (sign, exponent field, mantissa field).
  static func table(_ f: Float8Format) -> [(code: UInt8, value: Double)] {
    (0...255).map { c in
      let code = UInt8(c)
      let (mBits, eBits, bias) = f == .e4m3 ? (3, 4, 7) : (2, 5, 15)
      let m = c & ((1 << mBits) - 1)
      let e = (c >> mBits) & ((1 << eBits) - 1)
      let s: Double = c & 0x80 != 0 ? -1 : 1
      let top = (1 << eBits) - 1
      var v: Double
      if f == .e4m3 && e == top && m == 7 {
        v = .nan
      } else if f == .e5m2 && e == top {
        v = m == 0 ? s * .infinity : .nan
      } else if e == 0 {
        v = s * Double(m) / Double(1 << mBits) * pow2(1 - bias)
      } else {
        v = s * (1 + Double(m) / Double(1 << mBits)) * pow2(e - bias)
      }
      return (code, v)
    }
  }

  static func pow2(_ k: Int) -> Double { Double(sign: .plus, exponent: k, significand: 1) }

  /// Round to nearest, ties to the code with an even mantissa, over the finite non-negative values; beyond the largest
  /// by more than half its spacing above (or at a tie that goes up), overflow.
  static func reference(_ f: Float8Format, _ x: Double) -> Double? {
    let finite = table(f).filter { $0.value.isFinite && $0.value >= 0 && $0.code & 0x80 == 0 }.sorted {
      $0.value < $1.value
    }
    let a = abs(x)
    // The next value above the largest finite one, had the format one: max + one spacing of the top binade.
    let top = finite.last!.value
    let spacing = top - finite[finite.count - 2].value
    let candidates = finite + [(code: UInt8(0xFF), value: top + spacing)]
    var best = candidates[0]
    for c in candidates {
      let d = abs(c.value - a)
      let bd = abs(best.value - a)
      if d < bd || (d == bd && c.code & 1 == 0 && c.code != 0xFF) { best = c }
    }
    if best.code == 0xFF { return nil }  // overflow
    return x.sign == .minus ? -best.value : best.value
  }

  @Test(arguments: Float8Format.allCases)
  func everyCodeDecodesAndEncodesBack(format f: Float8Format) {
    for (code, v) in Self.table(f) {
      let got = f.value(code)
      #expect(got.isNaN == v.isNaN && (v.isNaN || got.bitPattern == v.bitPattern), "\(f) code \(code)")
      if v.isNaN {
        #expect(f.code(v) == f.nanCode)
      } else {
        #expect(f.code(v) == code, "\(f) code \(code) = \(v) encodes as \(f.code(v))")
      }
    }
    let nans = Self.table(f).filter { $0.value.isNaN }.count
    #expect(nans == (f == .e4m3 ? 2 : 6))
  }

  @Test(arguments: Float8Format.allCases)
  func everyMidpointRoundsToEvenAndItsNeighboursToTheNearest(format f: Float8Format) {
    let finite = Self.table(f).map(\.value).filter { $0.isFinite }
    let values = Array(Set(finite)).sorted()
    for k in 1..<values.count {
      let (a, b) = (values[k - 1], values[k])
      let mid = (a + b) / 2
      for x in [mid, mid.nextUp, mid.nextDown, a, b] {
        let expected = Self.reference(f, x)
        let got = f.round(x)
        #expect(
          got.bitPattern == expected?.bitPattern,
          "\(f): \(x) rounds to \(got), expected \(String(describing: expected))")
      }
    }
  }

  @Test func overflowIsNaNForE4M3AndInfinityForE5M2UnlessSaturating() {
    // e4m3: 448 is the largest; 464 (the tie with the missing 480) rounds to even, 448; above it overflows.
    #expect(Float8Format.e4m3.round(464) == 448)
    #expect(Float8Format.e4m3.round(464.0001).isNaN)
    #expect(Float8Format.e4m3.round(-1e6).isNaN)
    #expect(Float8Format.e4m3.round(.infinity).isNaN)
    #expect(Float8Format.e4m3.round(1e6, saturating: true) == 448)
    #expect(Float8Format.e4m3.round(-.infinity, saturating: true) == -448)
    #expect(Float8Format.e4m3.code(1e6) == 0x7F)
    // e5m2: 57,344 is the largest; the tie 61,440 rounds to the even 65,536 = ∞.
    #expect(Float8Format.e5m2.round(61_439.99) == 57_344)
    #expect(Float8Format.e5m2.round(61_440) == .infinity)
    #expect(Float8Format.e5m2.round(-1e6) == -.infinity)
    #expect(Float8Format.e5m2.code(1e6) == 0x7C && Float8Format.e5m2.code(-1e6) == 0xFC)
    #expect(Float8Format.e5m2.round(1e6, saturating: true) == 57_344)
    // Signed zeros and the subnormal floor.
    #expect(Float8Format.e4m3.code(-0.0) == 0x80 && Float8Format.e5m2.code(0) == 0)
    #expect(Float8Format.e4m3.leastNonzero == 0x1p-9 && Float8Format.e5m2.leastNonzero == 0x1p-16)
    #expect(Float8Format.e4m3.round(0x1p-10) == 0 && Float8Format.e4m3.round(0x1p-10.nextUp) == 0x1p-9)
  }
}
