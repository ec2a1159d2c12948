// Conversions for the Float16 and bfloat16 batch kernels (SoftmaxCore widens rows to Float a chunk at a time, runs the
// Float kernel and rounds back once). Scalar Float16 arithmetic is emulated on most x86 targets (~25 ns per element);
// the bulk bit-level conversions below are a few vector integer operations per sixteen values.

/// Bulk conversions between `Float` and the 16-bit formats, on raw bit patterns (`UInt16`), sixteen values at a time.
///
/// bfloat16 is the top half of a binary32: widening is a shift; narrowing rounds to nearest, ties to even, by adding
/// `0x7FFF + lsb` before the shift, and keeps NaN a (quiet) NaN. binary16 conversions follow F. Giesen's branch-free
/// formulations ("half_to_float", "float_to_half_fast3_rtne"), with the branches turned into lane selects.
public enum HalfBits {
  // Everything is done on SIMD16<Int32> with arithmetic masks: Swift lowers comparisons of integer SIMD vectors
  // (`.<`, `.==`) to a lane-by-lane loop building the mask, so `lessMask` forms the mask from the sign of a
  // difference and `select` blends with and/andnot/or. Right shifts are arithmetic, which only changes bits above the
  // 16 that are kept.
  typealias Bits = SIMD16<Int32>

  /// All ones in the lanes where `a < b`, zero elsewhere (valid while `a − b` does not overflow).
  @inline(__always) static func lessMask(_ a: Bits, _ b: Int32) -> Bits { (a &- b) &>> 31 }

  /// `mask ? a : b` lane by lane, for masks of all ones or all zeros.
  @inline(__always) static func select(_ mask: Bits, _ a: Bits, _ b: Bits) -> Bits {
    (a & mask) | (b & ~mask)
  }

  /// Sixteen `UInt16` zero-extended lane by lane (the optimiser turns the loop into unpacks). Not
  /// `Bits(truncatingIfNeeded:)`: that generic initialiser is not inlined, and its specialisation would be a weak
  /// symbol of the same name in both copies of this module, of which the linker keeps one for both (BatchKernels.swift).
  @inline(__always) static func loadBits(_ p: UnsafePointer<UInt16>) -> Bits {
    let h = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt16>.self)
    var v = Bits()
    for l in 0..<16 { v[l] = Int32(h[l]) }
    return v
  }

  /// The low 16 bits of each lane stored at `p`. A lane loop for the same reason as ``loadBits(_:)``: the generic
  /// `SIMD16<UInt16>(truncatingIfNeeded:)` is not always inlined (it was not in the fused half-precision kernel).
  @inline(__always) static func storeBits(_ v: Bits, _ p: UnsafeMutablePointer<UInt16>) {
    var h = SIMD16<UInt16>()
    for l in 0..<16 { h[l] = UInt16(truncatingIfNeeded: v[l]) }
    UnsafeMutableRawPointer(p).storeBytes(of: h, as: SIMD16<UInt16>.self)
  }

  @inline(__always) static func loadFloatBits(_ p: UnsafePointer<Float>) -> Bits {
    UnsafeRawPointer(p).loadUnaligned(as: Bits.self)
  }

  @inline(__always) static func storeFloatBits(_ v: Bits, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Bits.self)
  }

  /// bfloat16 bit patterns (zero-extended) to `Float` bit patterns (exact).
  @inline(__always) static func bfloat16ToFloatBits(_ h: Bits) -> Bits { h &<< 16 }

  /// `Float` bit patterns to bfloat16 bit patterns (in the low 16 bits), to nearest, ties to even; NaN stays NaN.
  ///
  /// The NaN test is a float comparison (`x != x`, one instruction per vector) and the blend a float select: with
  /// AVX2 that is 26 instead of 32 instructions per sixteen values (scaling multiplies and store included) in a loop
  /// like the fused kernel's. (Without any blend after the shift, LLVM narrows the lanes one by one — `vpextrw` —
  /// instead of with `vpackusdw`: keep one.)
  @inline(__always) static func floatToBFloat16Bits(_ f: Bits) -> Bits {
    let rounded = (f &+ 0x7FFF &+ ((f &>> 16) & 1)) &>> 16
    let quietNaN = (f &>> 16) | 0x0040
    let x = unsafeBitCast(f, to: SIMD16<Float>.self)
    return unsafeBitCast(
      unsafeBitCast(rounded, to: SIMD16<Float>.self).replacing(
        with: unsafeBitCast(quietNaN, to: SIMD16<Float>.self), where: x .!= x),
      to: Bits.self)
  }

  /// binary16 bit patterns (zero-extended) to `Float` bit patterns (exact, subnormals and NaN payloads included).
  @inline(__always) static func float16ToFloatBits(_ h: Bits) -> Bits {
    let sign = (h & 0x8000) &<< 16
    var o = (h & 0x7FFF) &<< 13
    let exponent = o & 0x0F80_0000
    o = o &+ (112 &<< 23)  // rebias the exponent: (127 − 15) << 23
    o = select(~lessMask(exponent, 0x0F80_0000), o &+ (112 &<< 23), o)  // Inf/NaN: exponent 255
    // Zero and subnormals: give the value the implicit bit, then subtract it again in floating point (exact).
    let renormalised =
      unsafeBitCast(o &+ (1 &<< 23), to: SIMD16<Float>.self) - Float(bitPattern: 113 << 23)
    o = select(lessMask(exponent, 0x0080_0000), unsafeBitCast(renormalised, to: Bits.self), o)
    return o | sign
  }

  /// `Float` bit patterns to binary16 bit patterns (in the low 16 bits), to nearest, ties to even (overflow to ±inf,
  /// NaN quiet).
  @inline(__always) static func floatToFloat16Bits(_ bits: Bits) -> Bits {
    let f = bits & 0x7FFF_FFFF
    // Normal results: rebias, round to nearest even at bit 13.
    let odd = (f &>> 13) & 1
    let normal = (f &+ (-112 &<< 23) &+ 0xFFF &+ odd) &>> 13
    // Subnormal results: a floating-point addition rounds at the right bit (denormMagic = 0.5 as a float: 126 << 23).
    let denormMagic: Int32 = ((127 - 15) + (23 - 10) + 1) << 23
    let sum = unsafeBitCast(f, to: SIMD16<Float>.self) + Float(bitPattern: UInt32(denormMagic))
    let subnormal = unsafeBitCast(sum, to: Bits.self) &- denormMagic
    var o = select(lessMask(f, 113 << 23), subnormal, normal)
    o = select(~lessMask(f, (127 + 16) << 23), Bits(repeating: 0x7C00), o)
    o = select(lessMask(Bits(repeating: 255 << 23) &- f, 0), Bits(repeating: 0x7E00), o)
    return o | ((bits &>> 16) & 0x8000)
  }

  /// Whether the binary16 conversions use the standard library's `SIMD8<Float>(SIMD8<Float16>)` and back.
  ///
  /// With F16C these compile to one `vcvtph2ps` / `vcvtps2ph` per eight values; without it they are a library call
  /// per lane, and the bit-level conversions above are faster. The x86-64-v3 copy of this module (`SOFTMAX_F16C`)
  /// always has F16C. The baseline copy may still have it when the whole package is built with `-target-cpu native`,
  /// and Swift has no compile-time test for a CPU feature, so there this is decided once, at first use, by timing both
  /// on 4096 values (both are correctly rounded, ties to even, so the choice changes the speed only). The standard
  /// library must be at least twice as fast to be chosen; the two cases differ by far more than that.
  #if SOFTMAX_F16C
    static let useHardwareFloat16 = true
  #else
    static let useHardwareFloat16: Bool = {
      let n = 4096
      let halves = UnsafeMutablePointer<UInt16>.allocate(capacity: n)
      let floats = UnsafeMutablePointer<Float>.allocate(capacity: n)
      defer {
        halves.deallocate()
        floats.deallocate()
      }
      for i in 0..<n { floats[i] = Float(i - n / 2) * 0.0123 }
      let clock = ContinuousClock()
      var best = (bits: Duration.seconds(1), library: Duration.seconds(1))
      for _ in 0..<5 {
        let bits = clock.measure {
          var i = 0
          while i + 16 <= n {
            storeBits(floatToFloat16Bits(loadFloatBits(floats + i)), halves + i)
            storeFloatBits(float16ToFloatBits(loadBits(halves + i)), floats + i)
            i += 16
          }
        }
        let library = clock.measure {
          var i = 0
          while i + 8 <= n {
            let f = UnsafeRawPointer(floats + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(halves + i).storeBytes(
              of: SIMD8<Float16>(f), as: SIMD8<Float16>.self)
            let h = UnsafeRawPointer(halves + i).loadUnaligned(as: SIMD8<Float16>.self)
            UnsafeMutableRawPointer(floats + i).storeBytes(of: SIMD8<Float>(h), as: SIMD8<Float>.self)
            i += 8
          }
        }
        best = (Swift.min(best.bits, bits), Swift.min(best.library, library))
      }
      return best.library * 2 < best.bits
    }()
  #endif

  /// Runs `body` on `src + i, dst + i` for `i = start, start + width, …` while `width` values remain; returns the
  /// first `i` left over (for the caller's one-by-one tail).
  @inline(__always) static func groups<A, B>(
    _ src: UnsafePointer<A>, _ dst: UnsafeMutablePointer<B>, _ count: Int, from start: Int = 0, width: Int,
    _ body: (UnsafePointer<A>, UnsafeMutablePointer<B>) -> Void
  ) -> Int {
    var i = start
    while i + width <= count {
      body(src + i, dst + i)
      i += width
    }
    return i
  }

  /// The binary16 ⇄ `Float` conversion of the standard library (`SIMD8<To>(SIMD8<From>)`: one `vcvtph2ps` or
  /// `vcvtps2ph` with F16C), eight values at a time, where ``useHardwareFloat16`` says so; returns the first index
  /// left over (0 otherwise).
  @inline(__always)
  static func hardwareGroups<A, B, From: BinaryFloatingPoint & SIMDScalar, To: BinaryFloatingPoint & SIMDScalar>(
    _ src: UnsafePointer<A>, _ dst: UnsafeMutablePointer<B>, _ count: Int, _: From.Type, _: To.Type
  ) -> Int {
    guard useHardwareFloat16 else { return 0 }
    return groups(src, dst, count, width: 8) { s, d in
      let v = UnsafeRawPointer(s).loadUnaligned(as: SIMD8<From>.self)
      UnsafeMutableRawPointer(d).storeBytes(of: SIMD8<To>(v), as: SIMD8<To>.self)
    }
  }

  /// Widens `count` bfloat16 values (bit patterns) to `Float`.
  public static func widen(
    bfloat16 src: UnsafePointer<UInt16>, to dst: UnsafeMutablePointer<Float>, count: Int
  ) {
    let i = groups(src, dst, count, width: 16) { storeFloatBits(bfloat16ToFloatBits(loadBits($0)), $1) }
    for j in i..<count { dst[j] = float(bfloat16: src[j]) }
  }

  /// Rounds `count` `Float` values to bfloat16 bit patterns.
  public static func narrow(
    _ src: UnsafePointer<Float>, toBFloat16 dst: UnsafeMutablePointer<UInt16>, count: Int
  ) {
    let i = groups(src, dst, count, width: 16) { storeBits(floatToBFloat16Bits(loadFloatBits($0)), $1) }
    for j in i..<count { dst[j] = bfloat16Bits(src[j]) }
  }

  /// Widens `count` binary16 values (bit patterns) to `Float`: eight at a time with the hardware conversion where
  /// ``useHardwareFloat16`` says so, sixteen at a time on the bits otherwise.
  public static func widen(
    float16 src: UnsafePointer<UInt16>, to dst: UnsafeMutablePointer<Float>, count: Int
  ) {
    let hardware = hardwareGroups(src, dst, count, Float16.self, Float.self)
    let i = groups(src, dst, count, from: hardware, width: 16) { storeFloatBits(float16ToFloatBits(loadBits($0)), $1) }
    for j in i..<count { dst[j] = float(float16: src[j]) }
  }

  /// Rounds `count` `Float` values to binary16 bit patterns (as ``widen(float16:to:count:)``, eight or sixteen at a
  /// time).
  public static func narrow(
    _ src: UnsafePointer<Float>, toFloat16 dst: UnsafeMutablePointer<UInt16>, count: Int
  ) {
    let hardware = hardwareGroups(src, dst, count, Float.self, Float16.self)
    let i = groups(src, dst, count, from: hardware, width: 16) { storeBits(floatToFloat16Bits(loadFloatBits($0)), $1) }
    for j in i..<count { dst[j] = float16Bits(src[j]) }
  }

  /// Rounds one `Float` to a bfloat16 bit pattern (nearest, ties to even; NaN stays a quiet NaN). The scalar form of
  /// ``floatToBFloat16Bits(_:)``, bit for bit (the fused kernel rounds each row's target entry and loss with it).
  public static func bfloat16Bits(_ x: Float) -> UInt16 {
    let f = x.bitPattern
    // NaN: keep sign and payload, set the quiet bit. Otherwise add 0x7FFF + lsb and drop 16 bits (no wrap-around:
    // only NaN bit patterns are within 0x8000 of 2^32).
    if x.isNaN { return UInt16(truncatingIfNeeded: f >> 16) | 0x0040 }
    return UInt16(truncatingIfNeeded: (f &+ 0x7FFF &+ ((f >> 16) & 1)) >> 16)
  }

  /// The exact `Float` value of a bfloat16 bit pattern.
  public static func float(bfloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

  /// Rounds one `Float` to a binary16 bit pattern (nearest, ties to even).
  public static func float16Bits(_ x: Float) -> UInt16 {
    UInt16(
      truncatingIfNeeded: floatToFloat16Bits(Bits(repeating: Int32(bitPattern: x.bitPattern)))[0])
  }

  /// The exact `Float` value of a binary16 bit pattern.
  public static func float(float16 bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bitPattern: float16ToFloatBits(Bits(repeating: Int32(bits)))[0]))
  }
}
