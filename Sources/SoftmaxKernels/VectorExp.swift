/// Vectorised `e^x` for the batch kernels, written so that every step compiles to whole-vector instructions.
///
/// ## Derivation
///
/// Range reduction: write `x = n·ln 2 + r` with `n = round(x / ln 2)`, so `|r| ≤ ln 2 / 2 ≈ 0.3466` and
/// `e^x = 2^n · e^r`.
///
/// * `n` is rounded with the magic-number trick: adding `1.5·2^23` (`1.5·2^52` for `Double`) to `x·log2(e)` pushes
///   the fraction out of the significand, so the float addition itself rounds to the nearest integer (ties to even),
///   and the low bits of the sum's bit pattern *are* `n`. No `.rounded()` and no float-to-int conversion (both of which
///   Swift lowers lane by lane).
/// * `r = x − n·ln2_hi − n·ln2_lo` (Cody–Waite): `ln2_hi` has few significand bits, so `n·ln2_hi` is exact and, by
///   Sterbenz's lemma, so is `x − n·ln2_hi`; `ln2_lo` carries the rest of `ln 2`.
/// * `e^r ≈ 1 + r + r²·q(r)`. For `Float`, `q` has degree 4 (a degree-6 polynomial overall), fitted near-minimax for
///   relative error on `[−ln2/2, ln2/2]`: approximation error ≈ 3.4e−9 (0.03 ulp), ≤ 0.8 ulp once evaluated in
///   `Float`. (A degree-5 fit was tried: 0.86 ε approximation error, 1.46 ε once evaluated in `Float`, too much of
///   the 4-ulp end-to-end budget for two operations saved per vector.) For `Double`, `q` is the Taylor series of `(e^r − 1 − r)/r²` up to `r^11` (degree 13 overall):
///   truncation error `|r|^14/14! ≈ 4e−18`, far below half an ulp. Horner's rule, each step through ``madd(_:_:_:)``:
///   a separate multiply and add in the baseline module, one fused multiply-add in the x86-64-v3 module.
/// * `2^n` is built from bits, `(n + bias) << significandBits`, split as `2^n1 · 2^n2` with `n1 = ⌊n/2⌋`: both
///   factors stay normal for every `n` the clamped input can produce, so results that are subnormal are rounded once
///   (correctly) and results past the largest finite value become `+inf`.
///
/// Clamping the input to `[−104, 100]` (`[−746, 800]` for `Double`) keeps `n` in range: `−∞` and anything below
/// `ln(least subnormal / 2)` give exactly `+0`, anything above `ln(greatest finite)` gives `+inf`. NaN stays NaN (the
/// clamping comparisons are false for NaN). The clamps are comparisons plus `replacing(with:where:)`, which lower to
/// vector compare-and-select (or `max`/`min`) instructions, unlike `pointwiseMax`.
enum VectorExp {
  // MARK: Float

  #if SOFTMAX_FLOAT8
    /// The `Float` vector type of the batch kernels: eight lanes (one ymm register) in this build.
    typealias FloatVector = SIMD8<Float>
    /// Bit patterns of a ``FloatVector``.
    typealias FloatBits = SIMD8<Int32>
  #else
    /// The `Float` vector type of the batch kernels: sixteen lanes (four xmm registers per value in the baseline SSE2
    /// build, two ymm with AVX2), measured a few per cent faster than eight despite some spilling under SSE2
    /// (BENCHMARKS.md).
    typealias FloatVector = SIMD16<Float>
    /// Bit patterns of a ``FloatVector``.
    typealias FloatBits = SIMD16<Int32>
  #endif

  /// `a·b + c`: one fused multiply-add (rounded once) where the module is compiled with FMA (`SOFTMAX_FMA`, the
  /// x86-64-v3 copy), a multiply and an add otherwise. `addingProduct` must not be used without FMA: it then becomes
  /// a software `fma` call per lane.
  @inline(__always) static func madd<V: SIMD>(_ a: V, _ b: V, _ c: V) -> V where V.Scalar: FloatingPoint {
    #if SOFTMAX_FMA
      c.addingProduct(a, b)
    #else
      a * b + c
    #endif
  }

  static let floatMagic: Float = 12_582_912  // 1.5·2^23
  static let floatLog2e: Float = 1.442_695_04
  static let floatLn2Hi: Float = 0.693_359_375  // 355/512: 9 significand bits
  static let floatLn2Lo: Float = -2.121_944_4e-4  // ln 2 − ln2Hi

  /// `e^(x + correction)` for the `Float` lanes of a ``FloatVector`` (see the type's documentation for the method and its error).
  ///
  /// `correction` is a small extra term added after range reduction; the kernels pass the exact rounding error of
  /// `x_i − M` there, so the result is `e^{x_i − M}` for the exact difference. Lanes where `x < −104` (including
  /// `−∞`) return `+0` whatever the correction.
  @inline(__always)
  static func exp(_ x: FloatVector, correction: FloatVector = .zero) -> FloatVector {
    let low = x .< -104
    var x = x.replacing(with: -104, where: low)
    x = x.replacing(with: 100, where: x .> 100)
    let c = correction.replacing(with: 0, where: low)
    let k = madd(x, .init(repeating: floatLog2e), .init(repeating: floatMagic))
    let nf = k - floatMagic
    var r = madd(nf, .init(repeating: -floatLn2Hi), x)
    r = madd(nf, .init(repeating: -floatLn2Lo), r)
    r = r + c
    // q(r) ≈ (e^r − 1 − r)/r², near-minimax for relative error of e^r on |r| ≤ ln2/2.
    var q = FloatVector(repeating: 0.001_377_957_873_046_398_2)
    q = madd(q, r, .init(repeating: 0.008_368_866_518_139_84))
    q = madd(q, r, .init(repeating: 0.041_669_022_291_898_73))
    q = madd(q, r, .init(repeating: 0.166_665_196_418_762_2))
    q = madd(q, r, .init(repeating: 0.499_999_910_593_032_84))
    let p = madd(r * r, q, r) + 1
    // n is in the low bits of k's bit pattern; k and the magic number share their exponent.
    let n = unsafeBitCast(k, to: FloatBits.self) &- 0x4B40_0000
    let n1 = n &>> 1
    let n2 = n &- n1
    let s1 = unsafeBitCast((n1 &+ 127) &<< 23, to: FloatVector.self)
    let s2 = unsafeBitCast((n2 &+ 127) &<< 23, to: FloatVector.self)
    return (p * s1) * s2
  }

  /// `e^(x + correction)` for the `Float` lanes of a ``FloatVector`` known to satisfy `−86 ≤ x ≤ 88` (no clamping, no underflow):
  /// the same polynomial as ``exp(_:correction:)-(FloatVector,_)``, but `2^n` is applied by adding `n` to the
  /// exponent field of `e^r` (one integer add), which is valid because the result is a normal number.
  @inline(__always)
  static func expNormalRange(_ x: FloatVector, correction: FloatVector = .zero)
    -> FloatVector
  {
    let k = madd(x, .init(repeating: floatLog2e), .init(repeating: floatMagic))
    let nf = k - floatMagic
    var r = madd(nf, .init(repeating: -floatLn2Hi), x)
    r = madd(nf, .init(repeating: -floatLn2Lo), r)
    r = r + correction
    var q = FloatVector(repeating: 0.001_377_957_873_046_398_2)
    q = madd(q, r, .init(repeating: 0.008_368_866_518_139_84))
    q = madd(q, r, .init(repeating: 0.041_669_022_291_898_73))
    q = madd(q, r, .init(repeating: 0.166_665_196_418_762_2))
    q = madd(q, r, .init(repeating: 0.499_999_910_593_032_84))
    let p = madd(r * r, q, r) + 1
    let n = unsafeBitCast(k, to: FloatBits.self) &- 0x4B40_0000
    return unsafeBitCast(
      unsafeBitCast(p, to: FloatBits.self) &+ (n &<< 23), to: FloatVector.self)
  }

  /// The rounding constant of ``expShifted(_:magic:)`` for a shift by `n_S·ln 2`: `1.5·2^23 + ((−n_S) mod 512)`. It is
  /// an integer below `2^24` whose unit is the last place, so `x·log2(e) + magic` still rounds to the nearest integer
  /// `n` (for `|x·log2 e| ≤ 2^21`), and the sum's bit pattern is `0x4B40_0000 + ((−n_S) mod 512) + n`; shifted left by
  /// 23 bits, only `(n − n_S)·2^23 (mod 2^32)` remains (`0x4B40_0000·2^23` vanishes mod `2^32`).
  @inline(__always)
  static func shiftedMagic(_ nS: Int32) -> Float {
    Float(0x00C0_0000 &+ ((0 &- nS) & 511))
  }

  /// `e^{x − n_S·ln 2}` for lanes with `|x| ≤ 1024` whose result is a normal number, with `magic` from
  /// ``shiftedMagic(_:)``: the shift by `n_S·ln 2` rides in the rounding constant, so it costs nothing (the bit pattern
  /// of the rounding sum, shifted into the exponent field, is already `n − n_S`: one shift and one integer add apply
  /// `2^{n − n_S}`, modulo `2^32`, which is exact because the result is normal) and — unlike `x − M` — introduces no
  /// rounding error: the argument is reduced from `x` itself, exactly (Cody–Waite, as in ``exp(_:correction:)``).
  @inline(__always)
  static func expShifted(_ x: FloatVector, magic: FloatVector) -> FloatVector {
    let k = madd(x, .init(repeating: floatLog2e), magic)
    let nf = k - magic
    var r = madd(nf, .init(repeating: -floatLn2Hi), x)
    r = madd(nf, .init(repeating: -floatLn2Lo), r)
    var q = FloatVector(repeating: 0.001_377_957_873_046_398_2)
    q = madd(q, r, .init(repeating: 0.008_368_866_518_139_84))
    q = madd(q, r, .init(repeating: 0.041_669_022_291_898_73))
    q = madd(q, r, .init(repeating: 0.166_665_196_418_762_2))
    q = madd(q, r, .init(repeating: 0.499_999_910_593_032_84))
    let p = madd(r * r, q, r) + 1
    return unsafeBitCast(
      unsafeBitCast(p, to: FloatBits.self) &+ (unsafeBitCast(k, to: FloatBits.self) &<< 23),
      to: FloatVector.self)
  }

  // MARK: Double

  static let doubleMagic: Double = 6_755_399_441_055_744  // 1.5·2^52
  static let doubleLog2e: Double = 1.442_695_040_888_963_4
  static let doubleLn2Hi: Double = 6.931_471_803_691_238_164_90e-01  // 32 significand bits
  static let doubleLn2Lo: Double = 1.908_214_929_270_587_700_02e-10

  /// `e^(x + correction)` for eight `Double` lanes (see the type's documentation). Lanes where `x < −746` (including
  /// `−∞`) return `+0`.
  @inline(__always)
  static func exp(_ x: SIMD8<Double>, correction: SIMD8<Double> = .zero) -> SIMD8<Double> {
    let low = x .< -746
    var x = x.replacing(with: -746, where: low)
    x = x.replacing(with: 800, where: x .> 800)
    let c = correction.replacing(with: 0, where: low)
    let k = madd(x, .init(repeating: doubleLog2e), .init(repeating: doubleMagic))
    let nf = k - doubleMagic
    var r = madd(nf, .init(repeating: -doubleLn2Hi), x)
    r = madd(nf, .init(repeating: -doubleLn2Lo), r)
    r = r + c
    // q(r) = Σ_{j=0}^{11} r^j/(j+2)!, the Taylor series of (e^r − 1 − r)/r².
    var q = SIMD8<Double>(repeating: 1.605_904_383_682_161_3e-10)  // 1/13!
    q = madd(q, r, .init(repeating: 2.087_675_698_786_809_9e-9))  // 1/12!
    q = madd(q, r, .init(repeating: 2.505_210_838_544_172e-8))  // 1/11!
    q = madd(q, r, .init(repeating: 2.755_731_922_398_589e-7))  // 1/10!
    q = madd(q, r, .init(repeating: 2.755_731_922_398_589_3e-6))  // 1/9!
    q = madd(q, r, .init(repeating: 2.480_158_730_158_730_2e-5))  // 1/8!
    q = madd(q, r, .init(repeating: 1.984_126_984_126_984e-4))  // 1/7!
    q = madd(q, r, .init(repeating: 1.388_888_888_888_889e-3))  // 1/6!
    q = madd(q, r, .init(repeating: 8.333_333_333_333_333e-3))  // 1/5!
    q = madd(q, r, .init(repeating: 4.166_666_666_666_666_4e-2))  // 1/4!
    q = madd(q, r, .init(repeating: 0.166_666_666_666_666_66))  // 1/3!
    q = madd(q, r, .init(repeating: 0.5))  // 1/2!
    let p = madd(r * r, q, r) + 1
    // Bias n by 2048 so the halving is a logical shift (SSE2 has no 64-bit arithmetic shift).
    let n = unsafeBitCast(k, to: SIMD8<UInt64>.self) &- 0x4338_0000_0000_0000 &+ 2048
    let n1 = n &>> 1  // ⌊(n + 2048)/2⌋ = ⌊n/2⌋ + 1024
    let n2 = n &- n1  // n − ⌊n/2⌋ + 1024
    let s1 = unsafeBitCast((n1 &- 1) &<< 52, to: SIMD8<Double>.self)  // 2^{⌊n/2⌋} (bias 1023)
    let s2 = unsafeBitCast((n2 &- 1) &<< 52, to: SIMD8<Double>.self)
    return (p * s1) * s2
  }

  /// `e^(x + correction)` for eight `Double` lanes known to satisfy `−700 ≤ x ≤ 700` (no clamping, no underflow); see
  /// ``expNormalRange(_:correction:)-(FloatVector,_)``.
  @inline(__always)
  static func expNormalRange(_ x: SIMD8<Double>, correction: SIMD8<Double> = .zero) -> SIMD8<
    Double
  > {
    let k = madd(x, .init(repeating: doubleLog2e), .init(repeating: doubleMagic))
    let nf = k - doubleMagic
    var r = madd(nf, .init(repeating: -doubleLn2Hi), x)
    r = madd(nf, .init(repeating: -doubleLn2Lo), r)
    r = r + correction
    var q = SIMD8<Double>(repeating: 1.605_904_383_682_161_3e-10)
    q = madd(q, r, .init(repeating: 2.087_675_698_786_809_9e-9))
    q = madd(q, r, .init(repeating: 2.505_210_838_544_172e-8))
    q = madd(q, r, .init(repeating: 2.755_731_922_398_589e-7))
    q = madd(q, r, .init(repeating: 2.755_731_922_398_589_3e-6))
    q = madd(q, r, .init(repeating: 2.480_158_730_158_730_2e-5))
    q = madd(q, r, .init(repeating: 1.984_126_984_126_984e-4))
    q = madd(q, r, .init(repeating: 1.388_888_888_888_889e-3))
    q = madd(q, r, .init(repeating: 8.333_333_333_333_333e-3))
    q = madd(q, r, .init(repeating: 4.166_666_666_666_666_4e-2))
    q = madd(q, r, .init(repeating: 0.166_666_666_666_666_66))
    q = madd(q, r, .init(repeating: 0.5))
    let p = madd(r * r, q, r) + 1
    let n = unsafeBitCast(k, to: SIMD8<Int64>.self) &- 0x4338_0000_0000_0000
    return unsafeBitCast(
      unsafeBitCast(p, to: SIMD8<Int64>.self) &+ (n &<< 52), to: SIMD8<Double>.self)
  }
}
