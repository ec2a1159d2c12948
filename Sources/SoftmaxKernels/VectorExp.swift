/// One scalar format of the batch kernels (``FloatLanes``, ``DoubleLanes``): its vector and the few operations that
/// differ between formats. The row passes (RowPasses.swift) are written once over this protocol and specialised for
/// each conformance.
///
/// Lane comparisons are requirements because the standard library's generic `.<` builds the mask lane by lane (a
/// scalar compare and store per lane), while the concrete `SIMD16<Float>` one is one vector compare; arithmetic and
/// `replacing(with:where:)` are generic in the standard library either way. The rest are what differs between the
/// formats: the exponential's constants, polynomial and scaling, the running total and the horizontal reductions.
///
/// The conformances are this module's own enums, not the standard library's vector types: a conformance of
/// `SIMD16<Float>` would make both copies of the module emit the same weak witness-table accessors and
/// specialisations (BatchKernels.swift).
protocol KernelFormat: SendableMetatype {
  associatedtype Scalar: BinaryFloatingPoint
  associatedtype Vector: SIMD where Vector.Scalar == Scalar
  /// The running `Double` total of a row, one lane per lane of `Vector`.
  associatedtype Total: SIMD where Total.Scalar == Double
  /// Lane-wise `a < b` as one vector compare.
  static func lanes(_ a: Vector, lessThan b: Vector) -> SIMDMask<Vector.MaskStorage>
  /// Lane-wise `a == b` as one vector compare.
  static func lanes(_ a: Vector, equalTo b: Vector) -> SIMDMask<Vector.MaskStorage>
  /// The exact `Double` value of `x`.
  static func widened(_ x: Scalar) -> Double
  /// `x` rounded to this format (the kernels' sums and losses are `Double`).
  static func narrowed(_ x: Double) -> Scalar
  /// Rows whose smallest `x − M` is at least this take the exponential without clamping (``expNormalRange``).
  static var normalFloor: Scalar { get }
  /// The rounding constant (`1.5·2^p`, `p` significand bits), `log2(e)` and `ln 2 = ln2Hi + ln2Lo` (Cody–Waite).
  static var reduction: (magic: Scalar, log2e: Scalar, ln2Hi: Scalar, ln2Lo: Scalar) { get }
  /// The clamps of ``exp(_:correction:)``: below `low` the result is `+0`, above `high` it is `+inf`.
  static var expRange: (low: Scalar, high: Scalar) { get }
  /// `e^r ≈ 1 + r + r²·q(r)` on `|r| ≤ ln2/2`.
  static func polynomial(_ r: Vector) -> Vector
  /// `p·2^n` for any `n` of the clamped range, where `n` is in the low bits of `k`'s bit pattern (`k` and the
  /// rounding constant share their exponent).
  static func scaledSplit(_ p: Vector, _ k: Vector) -> Vector
  /// `p·2^n` for a result that is a normal number: `n` added to the exponent field (modulo the field's width, which
  /// drops the rounding constant's own bits).
  static func scaledNormal(_ p: Vector, _ k: Vector) -> Vector
  /// The largest lane (the lanes hold no NaN).
  static func horizontalMax(_ v: Vector) -> Scalar
  /// The smallest lane (the lanes hold no NaN).
  static func horizontalMin(_ v: Vector) -> Scalar
  /// `total += v`, lane by lane, in `Double`.
  static func add(_ v: Vector, to total: inout Total)
  /// `Σ total[l]`.
  static func sum(_ total: Total) -> Double
  /// The power-of-two shift `n_S` of a row for the shifted exponential (``shiftedMagic(_:)``), or `nil` for the
  /// general path (two-sum `x − M`).
  static func shift(of range: (max: Scalar, min: Scalar)) -> Int32?
  /// The rounding constant of the shifted exponential for a shift by `n_S·ln 2`.
  static func shiftedMagic(_ nS: Int32) -> Vector
}

extension KernelFormat {
  /// No shifted path: every row takes the two-sum path (`Double` so far).
  static func shift(of range: (max: Scalar, min: Scalar)) -> Int32? { nil }
  static func shiftedMagic(_ nS: Int32) -> Vector { preconditionFailure("no shifted exponential for this format") }

  /// `a·b + c`: one fused multiply-add (rounded once) where the module is compiled with FMA (`SOFTMAX_FMA`, the
  /// x86-64-v3 copy), a multiply and an add otherwise. `addingProduct` must not be used without FMA: it then becomes
  /// a software `fma` call per lane.
  @_transparent static func madd(_ a: Vector, _ b: Vector, _ c: Vector) -> Vector {
    #if SOFTMAX_FMA
      c.addingProduct(a, b)
    #else
      a * b + c
    #endif
  }

  /// `x = n·ln 2 + r`: the rounding sum `k = x·log2(e) + magic` (whose bit pattern holds `n`) and `r`, reduced
  /// exactly by Cody–Waite.
  @_transparent static func reduced(_ x: Vector, magic: Vector) -> (k: Vector, r: Vector) {
    let k = madd(x, Vector(repeating: reduction.log2e), magic)
    let nf = k - magic
    let r = madd(nf, Vector(repeating: -reduction.ln2Hi), x)
    return (k, madd(nf, Vector(repeating: -reduction.ln2Lo), r))
  }

  /// `e^(x + correction)` lane by lane (see ``VectorExp`` for the method and its error).
  ///
  /// `correction` is a small extra term added after range reduction; the kernels pass the exact rounding error of
  /// `x_i − M` there, so the result is `e^{x_i − M}` for the exact difference. Lanes below ``expRange`` (including
  /// `−∞`) return `+0` whatever the correction.
  @_transparent static func exp(_ x: Vector, correction: Vector = .zero) -> Vector {
    let low = lanes(x, lessThan: Vector(repeating: expRange.low))
    var x = x.replacing(with: expRange.low, where: low)
    x = x.replacing(with: expRange.high, where: lanes(Vector(repeating: expRange.high), lessThan: x))
    let (k, r) = reduced(x, magic: Vector(repeating: reduction.magic))
    return scaledSplit(polynomial(r + correction.replacing(with: 0, where: low)), k)
  }

  /// ``exp(_:correction:)`` for lanes whose `x` is in `[normalFloor, 0]` (no clamping, no underflow): `2^n` is
  /// applied by adding `n` to the exponent field of `e^r` (one integer add), valid because the result is normal.
  @_transparent static func expNormalRange(_ x: Vector, correction: Vector) -> Vector {
    let (k, r) = reduced(x, magic: Vector(repeating: reduction.magic))
    return scaledNormal(polynomial(r + correction), k)
  }

  /// `e^{x − n_S·ln 2}` for lanes with `|x| ≤ 1024` whose result is a normal number, with `magic` from
  /// ``shiftedMagic(_:)``: the shift rides in the rounding constant, so it costs nothing and — unlike `x − M` —
  /// introduces no rounding error: the argument is reduced from `x` itself, exactly.
  @_transparent static func expShifted(_ x: Vector, magic: Vector) -> Vector {
    let (k, r) = reduced(x, magic: magic)
    return scaledNormal(polynomial(r), k)
  }
}

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
///   the 4-ulp end-to-end budget for two operations saved per vector.) For `Double`, `q` is the Taylor series of
///   `(e^r − 1 − r)/r²` up to `r^11` (degree 13 overall): truncation error `|r|^14/14! ≈ 4e−18`, far below half an
///   ulp. Horner's rule, each step through ``KernelFormat/madd(_:_:_:)``: a separate multiply and add in the baseline
///   module, one fused multiply-add in the x86-64-v3 module.
/// * `2^n` is built from bits, `(n + bias) << significandBits`, split as `2^n1 · 2^n2` with `n1 = ⌊n/2⌋`: both
///   factors stay normal for every `n` the clamped input can produce, so results that are subnormal are rounded once
///   (correctly) and results past the largest finite value become `+inf`.
///
/// Clamping the input to `[−104, 100]` (`[−746, 800]` for `Double`) keeps `n` in range: `−∞` and anything below
/// `ln(least subnormal / 2)` give exactly `+0`, anything above `ln(greatest finite)` gives `+inf`. NaN stays NaN (the
/// clamping comparisons are false for NaN). The clamps are comparisons plus `replacing(with:where:)`, which lower to
/// vector compare-and-select (or `max`/`min`) instructions, unlike `pointwiseMax`.
enum VectorExp {
  /// The `Float` vector type of the batch kernels: sixteen lanes (four xmm registers per value in the baseline SSE2
  /// build, two ymm with AVX2), measured a few per cent faster than eight despite some spilling under SSE2.
  typealias FloatVector = SIMD16<Float>
  /// Bit patterns of a ``FloatVector``.
  typealias FloatBits = SIMD16<Int32>
}

extension SIMD {
  /// Lanes `start ..< start + H.scalarCount`: the standard library's `lowHalf` and `highHalf` are not always
  /// inlined, and their specialisations would be weak symbols shared by both copies of this module.
  @_transparent func lanes<H: SIMD>(_ start: Int, as _: H.Type) -> H where H.Scalar == Scalar {
    var h = H()
    for i in 0..<H.scalarCount { h[i] = self[start + i] }
    return h
  }
}

/// Sixteen `Float` lanes with a `Double` total of sixteen lanes.
enum FloatLanes: KernelFormat {
  typealias Vector = VectorExp.FloatVector
  typealias Total = SIMD16<Double>
  @_transparent static func widened(_ x: Float) -> Double { Double(x) }
  @_transparent static func lanes(_ a: Vector, lessThan b: Vector) -> SIMDMask<Vector.MaskStorage> { a .< b }
  @_transparent static var reduction: (magic: Float, log2e: Float, ln2Hi: Float, ln2Lo: Float) {
    // 1.5·2^23; ln2Hi = 355/512 (9 significand bits), ln2Lo = ln 2 − ln2Hi.
    (12_582_912, 1.442_695_04, 0.693_359_375, -2.121_944_4e-4)
  }
  @_transparent static func lanes(_ a: Vector, equalTo b: Vector) -> SIMDMask<Vector.MaskStorage> { a .== b }
  @_transparent static var expRange: (low: Float, high: Float) { (-104, 100) }
  @_transparent static var normalFloor: Float { -86 }
  @_transparent static func narrowed(_ x: Double) -> Float { Float(x) }

  /// q(r) ≈ (e^r − 1 − r)/r², near-minimax for relative error of e^r on |r| ≤ ln2/2.
  @_transparent static func polynomial(_ r: Vector) -> Vector {
    var q = Vector(repeating: 0.001_377_957_873_046_398_2)
    q = madd(q, r, .init(repeating: 0.008_368_866_518_139_84))
    q = madd(q, r, .init(repeating: 0.041_669_022_291_898_73))
    q = madd(q, r, .init(repeating: 0.166_665_196_418_762_2))
    q = madd(q, r, .init(repeating: 0.499_999_910_593_032_84))
    return madd(r * r, q, r) + 1
  }

  @_transparent static func scaledSplit(_ p: Vector, _ k: Vector) -> Vector {
    let n = unsafeBitCast(k, to: SIMD16<Int32>.self) &- 0x4B40_0000
    let n1 = n &>> 1
    let s1 = unsafeBitCast((n1 &+ 127) &<< 23, to: Vector.self)
    return (p * s1) * unsafeBitCast((n &- n1 &+ 127) &<< 23, to: Vector.self)
  }

  @_transparent static func scaledNormal(_ p: Vector, _ k: Vector) -> Vector {
    let bits = unsafeBitCast(p, to: SIMD16<Int32>.self) &+ (unsafeBitCast(k, to: SIMD16<Int32>.self) &<< 23)
    return unsafeBitCast(bits, to: Vector.self)
  }

  /// Rows with `|M| ≤ 512` (so `|x| ≤ 600` and the Cody–Waite reduction of `x` itself stays accurate to ~0.1 ulp)
  /// and `min − M ≥ normalFloor` (every `e^{x − n_S·ln 2}` is normal; this also rules out `−∞`, NaN and `+∞`).
  @_transparent static func shift(of range: (max: Float, min: Float)) -> Int32? {
    guard range.max <= 512, range.max >= -512, range.min - range.max >= normalFloor else { return nil }
    // Rounded with the magic number (`.rounded()` is a library call in the baseline build); any nearby integer works.
    let k = range.max * reduction.log2e + reduction.magic
    return Int32(k - reduction.magic)
  }

  /// `1.5·2^23 + ((−n_S) mod 512)`: an integer below `2^24` whose unit is the last place, so `x·log2(e) + magic`
  /// still rounds to the nearest integer `n` (for `|x·log2 e| ≤ 2^21`), and the sum's bit pattern is
  /// `0x4B40_0000 + ((−n_S) mod 512) + n`; shifted left by 23 bits, only `(n − n_S)·2^23 (mod 2^32)` remains.
  @_transparent static func shiftedMagic(_ nS: Int32) -> Vector {
    Vector(repeating: Float(0x00C0_0000 &+ ((0 &- nS) & 511)))
  }

  // The horizontal reductions halve the vector (shuffles and vector compare-selects) instead of walking the lanes
  // one after another; they and `sum` run once per row, which matters for short rows (C = 256).

  @_transparent static func horizontalMin(_ v: Vector) -> Float { extreme(v, largest: false) }

  @_transparent static func horizontalMax(_ v: Vector) -> Float { extreme(v, largest: true) }

  @_transparent private static func extreme(_ v: Vector, largest: Bool) -> Float {
    let (l8, h8) = (v.lanes(0, as: SIMD8<Float>.self), v.lanes(8, as: SIMD8<Float>.self))
    let a = l8.replacing(with: h8, where: largest ? h8 .> l8 : h8 .< l8)
    let (l4, h4) = (a.lanes(0, as: SIMD4<Float>.self), a.lanes(4, as: SIMD4<Float>.self))
    let b = l4.replacing(with: h4, where: largest ? h4 .> l4 : h4 .< l4)
    let (l2, h2) = (b.lanes(0, as: SIMD2<Float>.self), b.lanes(2, as: SIMD2<Float>.self))
    let c = l2.replacing(with: h2, where: largest ? h2 .> l2 : h2 .< l2)
    return (largest ? c[1] > c[0] : c[1] < c[0]) ? c[1] : c[0]
  }

  @_transparent static func add(_ v: Vector, to total: inout Total) {
    for l in 0..<16 { total[l] += Double(v[l]) }
  }

  /// By halving (a tree of vector adds).
  @_transparent static func sum(_ total: Total) -> Double {
    let a = total.lanes(0, as: SIMD8<Double>.self) + total.lanes(8, as: SIMD8<Double>.self)
    let b = a.lanes(0, as: SIMD4<Double>.self) + a.lanes(4, as: SIMD4<Double>.self)
    let c = b.lanes(0, as: SIMD2<Double>.self) + b.lanes(2, as: SIMD2<Double>.self)
    return c[0] + c[1]
  }
}

/// Eight `Double` lanes (`Double` sums in the same lanes).
enum DoubleLanes: KernelFormat {
  typealias Vector = SIMD8<Double>
  typealias Total = Vector
  @_transparent static var normalFloor: Double { -700 }
  @_transparent static func narrowed(_ x: Double) -> Double { x }
  @_transparent static func lanes(_ a: Vector, lessThan b: Vector) -> SIMDMask<Vector.MaskStorage> { a .< b }
  @_transparent static var reduction: (magic: Double, log2e: Double, ln2Hi: Double, ln2Lo: Double) {
    // 1.5·2^52; ln2Hi has 32 significand bits.
    (6_755_399_441_055_744, 1.442_695_040_888_963_4, 6.931_471_803_691_238_164_90e-01, 1.908_214_929_270_587_700_02e-10)
  }
  @_transparent static var expRange: (low: Double, high: Double) { (-746, 800) }
  @_transparent static func lanes(_ a: Vector, equalTo b: Vector) -> SIMDMask<Vector.MaskStorage> { a .== b }
  @_transparent static func widened(_ x: Double) -> Double { x }

  /// q(r) = Σ_{j=0}^{11} r^j/(j+2)!, the Taylor series of (e^r − 1 − r)/r².
  @_transparent static func polynomial(_ r: Vector) -> Vector {
    var q = Vector(repeating: 1.605_904_383_682_161_3e-10)  // 1/13!
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
    return madd(r * r, q, r) + 1
  }

  /// With `n` biased by 2048 so that the halving is a logical shift (SSE2 has no 64-bit arithmetic shift).
  @_transparent static func scaledSplit(_ p: Vector, _ k: Vector) -> Vector {
    let n = unsafeBitCast(k, to: SIMD8<UInt64>.self) &- 0x4338_0000_0000_0000 &+ 2048
    let n1 = n &>> 1  // ⌊(n + 2048)/2⌋ = ⌊n/2⌋ + 1024
    let s1 = unsafeBitCast((n1 &- 1) &<< 52, to: Vector.self)  // 2^{⌊n/2⌋} (bias 1023)
    return (p * s1) * unsafeBitCast((n &- n1 &- 1) &<< 52, to: Vector.self)
  }

  @_transparent static func scaledNormal(_ p: Vector, _ k: Vector) -> Vector {
    unsafeBitCast(
      unsafeBitCast(p, to: SIMD8<Int64>.self) &+ (unsafeBitCast(k, to: SIMD8<Int64>.self) &<< 52), to: Vector.self)
  }

  @_transparent static func horizontalMin(_ v: Vector) -> Double {
    var m = v[0]
    for l in 1..<8 where v[l] < m { m = v[l] }
    return m
  }

  @_transparent static func horizontalMax(_ v: Vector) -> Double {
    var m = v[0]
    for l in 1..<8 where v[l] > m { m = v[l] }
    return m
  }

  @_transparent static func add(_ v: Vector, to total: inout Vector) { total += v }

  /// In lane order, as the standard library's `sum()` (which is not always inlined: its specialisation would be a
  /// weak symbol shared by both copies of the module).
  @_transparent static func sum(_ total: Vector) -> Double {
    var s = -0.0
    for l in 0..<8 { s += total[l] }
    return s
  }
}
