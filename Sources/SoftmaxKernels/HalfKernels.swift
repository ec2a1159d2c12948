// The fused kernel on float16 and bfloat16 rows (bit patterns), with the conversions folded into its passes: the
// logits are widened as the max pass and the exponential pass load them, and the gradient is rounded as the scaling
// pass stores it (`rowFusedHalf` in RowPasses.swift). The only scratch is one `Float` row for the exponentials.

private typealias Vec = VectorExp.FloatVector
private typealias Bits = HalfBits.Bits

@inline(__always) private func vector(_ v: Bits) -> Vec { unsafeBitCast(v, to: Vec.self) }

@inline(__always) private func bits(_ v: Vec) -> Bits { unsafeBitCast(v, to: Bits.self) }

extension HalfRowFormat {
  // The defaults of a format whose loads keep the lanes in order and whose stores have no cheaper NaN-free form.
  @inline(__always) static func position(_ i: Int, _ full: Int) -> Int { i }
  @inline(__always) static func storeNotNaN(_ v: Format.Vector, _ p: UnsafeMutablePointer<UInt16>) { store(v, p) }
  @inline(__always) static func storePermuted(_ v: Format.Vector, _ p: UnsafeMutablePointer<UInt16>) { store(v, p) }
  @inline(__always) static func storePermutedNotNaN(_ v: Format.Vector, _ p: UnsafeMutablePointer<UInt16>) {
    storeNotNaN(v, p)
  }
}

/// bfloat16 rows: widening is a 16-bit shift; narrowing rounds on the bits (``HalfBits/floatToBFloat16Bits(_:)``).
private enum BFloat16Row: HalfRowFormat {
  typealias Format = FloatLanes
  static var widensFirst: Bool { false }
  /// Sixteen values deinterleaved: the even-indexed ones in the low eight lanes, the odd-indexed ones in the high
  /// eight. One 32-byte load holds them as eight pairs; a pair's `UInt32` shifted left by 16 is the even value's
  /// `Float`, masked to its high half the odd one's (no shuffle, unlike widening in order).
  @inline(__always) static func load(_ p: UnsafePointer<UInt16>) -> Vec {
    let pairs = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<UInt32>.self)
    return Vec(
      lowHalf: unsafeBitCast(pairs &<< 16, to: SIMD8<Float>.self),
      highHalf: unsafeBitCast(pairs & 0xFFFF_0000, to: SIMD8<Float>.self))
  }
  @inline(__always) static func position(_ i: Int, _ full: Int) -> Int {
    i < full ? (i & ~15) | ((i & 1) << 3) | ((i & 15) >> 1) : i
  }
  /// The inverse of ``load(_:)``: each pair's rounded halves are combined into one `UInt32` (no pack, no shuffle).
  /// A NaN lane first becomes its quiet bfloat16 NaN followed by 16 zero bits, which the rounding leaves alone.
  @inline(__always) static func storePermuted(_ v: Vec, _ p: UnsafeMutablePointer<UInt16>) {
    let f = unsafeBitCast(v, to: SIMD16<UInt32>.self)
    let quiet = unsafeBitCast((f | 0x0040_0000) & 0xFFFF_0000, to: Vec.self)
    storePermutedNotNaN(v.replacing(with: quiet, where: v .!= v), p)
  }
  @inline(__always) static func storePermutedNotNaN(_ v: Vec, _ p: UnsafeMutablePointer<UInt16>) {
    let f = unsafeBitCast(v, to: SIMD16<UInt32>.self)
    let t = f &+ 0x7FFF &+ ((f &>> 16) & 1)
    let pairs = (t.highHalf & 0xFFFF_0000) | (t.lowHalf &>> 16)
    UnsafeMutableRawPointer(p).storeBytes(of: pairs, as: SIMD8<UInt32>.self)
  }
  @inline(__always) static func scalar(_ v: UInt16) -> Float { HalfBits.float(bfloat16: v) }
  @inline(__always) static func store(_ v: Vec, _ p: UnsafeMutablePointer<UInt16>) {
    HalfBits.storeBits(HalfBits.floatToBFloat16Bits(bits(v)), p)
  }
  /// The rounding of ``HalfBits/floatToBFloat16Bits(_:)`` without the NaN blend, narrowed eight lanes at a time:
  /// narrowed sixteen at a time without a blend, LLVM assembles the 16-bit lanes one by one (`vpextrw`); eight at a
  /// time it uses `vpackusdw`.
  @inline(__always) static func storeNotNaN(_ v: Vec, _ p: UnsafeMutablePointer<UInt16>) {
    let f = bits(v)
    let r = (f &+ 0x7FFF &+ ((f &>> 16) & 1)) &>> 16
    var lo = SIMD8<UInt16>()
    for l in 0..<8 { lo[l] = UInt16(truncatingIfNeeded: r[l]) }
    UnsafeMutableRawPointer(p).storeBytes(of: lo, as: SIMD8<UInt16>.self)
    var hi = SIMD8<UInt16>()
    for l in 0..<8 { hi[l] = UInt16(truncatingIfNeeded: r[l + 8]) }
    UnsafeMutableRawPointer(p + 8).storeBytes(of: hi, as: SIMD8<UInt16>.self)
  }
  @inline(__always) static func narrow(_ x: Float) -> UInt16 { HalfBits.bfloat16Bits(x) }
  @inline(__always) static func widen(
    _ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ count: Int
  ) {
    HalfBits.widen(bfloat16: src, to: dst, count: count)
  }
}

/// The two ways of reading binary16 rows; they widen a whole row alike (``HalfBits/widen(float16:to:count:)`` picks
/// the hardware or the bit-level conversion). Both have `Format == FloatLanes`, but as a constraint of this protocol
/// that would make the module emit weak witness-table accessors (scripts/check-kernel-symbols.sh), hence the cast.
private protocol Float16Row: HalfRowFormat where Stored == UInt16 {}

extension Float16Row {
  @inline(__always) static func widen(
    _ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Format.Scalar>, _ count: Int
  ) {
    HalfBits.widen(float16: src, to: UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Float.self), count: count)
  }
}

/// binary16 rows through `Float16` ⇄ `Float` conversions: `vcvtph2ps` / `vcvtps2ph` with F16C (only used where
/// ``HalfBits/useHardwareFloat16`` says so). Lane loops rather than `SIMD8<Float>(SIMD8<Float16>)`: that generic
/// initialiser is not always inlined, and its specialisation would be a weak symbol shared by both copies of the
/// module (BatchKernels.swift); the loops compile to the same instructions.
private enum Float16HardwareRow: Float16Row {
  typealias Format = FloatLanes
  static var widensFirst: Bool { false }
  @inline(__always) static func load(_ p: UnsafePointer<UInt16>) -> Vec {
    var v = Vec()
    for l in 0..<16 { v[l] = Float(Float16(bitPattern: p[l])) }
    return v
  }
  @inline(__always) static func scalar(_ v: UInt16) -> Float { Float(Float16(bitPattern: v)) }
  @inline(__always) static func store(_ v: Vec, _ p: UnsafeMutablePointer<UInt16>) {
    for l in 0..<16 { p[l] = Float16(v[l]).bitPattern }
  }
  @inline(__always) static func narrow(_ x: Float) -> UInt16 { Float16(x).bitPattern }
}

/// binary16 rows through the bit-level conversions (baseline CPUs without F16C). The widening is some twenty
/// vector operations per sixteen values, so the row is widened once, into the scratch row, rather than in both the
/// range and the exponential pass.
private enum Float16BitsRow: Float16Row {
  typealias Format = FloatLanes
  static var widensFirst: Bool { true }
  @inline(__always) static func load(_ p: UnsafePointer<UInt16>) -> Vec {
    vector(HalfBits.float16ToFloatBits(HalfBits.loadBits(p)))
  }
  @inline(__always) static func scalar(_ v: UInt16) -> Float { HalfBits.float(float16: v) }
  @inline(__always) static func store(_ v: Vec, _ p: UnsafeMutablePointer<UInt16>) {
    HalfBits.storeBits(HalfBits.floatToFloat16Bits(bits(v)), p)
  }
  @inline(__always) static func narrow(_ x: Float) -> UInt16 { HalfBits.float16Bits(x) }
}

/// Every row of a batch through ``rowFusedHalf(_:_:_:_:_:_:_:)``; the loss is rounded from `Double` to `Float`, then
/// to the format.
@inline(__always) private func fusedRows<S: HalfRowFormat>(
  _ x: UnsafePointer<S.Stored>, _ rows: Int, _ classes: Int, _ targets: UnsafePointer<Int>,
  _ upstream: UnsafePointer<S.Stored>, _ loss: UnsafeMutablePointer<UInt16>,
  _ gradient: UnsafeMutablePointer<UInt16>, _ scratch: UnsafeMutablePointer<Float>, _: S.Type
) where S.Format == FloatLanes {
  for r in 0..<rows {
    let l = rowFusedHalf(
      x + r * classes, classes, targets[r], S.scalar(upstream[r]), gradient + r * classes, scratch,
      S.self)
    loss[r] = S.narrow(Float(l))
  }
}

extension BatchKernels {
  /// The fused softmax + cross-entropy kernel on binary16 rows (bit patterns): `upstream`, `loss` and `gradient` are
  /// binary16 too, and `scratch` must hold `classes` `Float`s. The results are those of widening the logits to
  /// `Float`, running the `Float` fused kernel (``float``) and rounding back, but without the
  /// separate conversion passes.
  public static func fused(
    float16 x: UnsafePointer<UInt16>, rows: Int, classes: Int, targets: UnsafePointer<Int>,
    upstream: UnsafePointer<UInt16>, loss: UnsafeMutablePointer<UInt16>,
    gradient: UnsafeMutablePointer<UInt16>, scratch: UnsafeMutablePointer<Float>
  ) {
    if HalfBits.useHardwareFloat16 {
      fusedRows(
        x, rows, classes, targets, upstream, loss, gradient, scratch, Float16HardwareRow.self)
    } else {
      fusedRows(x, rows, classes, targets, upstream, loss, gradient, scratch, Float16BitsRow.self)
    }
  }

  /// The fused kernel on bfloat16 rows (bit patterns); see ``fused(float16:rows:classes:targets:upstream:loss:gradient:scratch:)``.
  public static func fused(
    bfloat16 x: UnsafePointer<UInt16>, rows: Int, classes: Int, targets: UnsafePointer<Int>,
    upstream: UnsafePointer<UInt16>, loss: UnsafeMutablePointer<UInt16>,
    gradient: UnsafeMutablePointer<UInt16>, scratch: UnsafeMutablePointer<Float>
  ) {
    fusedRows(x, rows, classes, targets, upstream, loss, gradient, scratch, BFloat16Row.self)
  }
}
