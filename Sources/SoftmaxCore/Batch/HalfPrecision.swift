// Float16 and bfloat16 batch kernels: rows are widened to Float a chunk at a time, run through the Float kernel and
// rounded back once. Scalar Float16 arithmetic is emulated on most x86 targets (~25 ns per element); the bulk
// bit-level conversions below are a few vector integer operations per sixteen values.

/// Bulk conversions between `Float` and the 16-bit formats, on raw bit patterns (`UInt16`), sixteen values at a time.
///
/// bfloat16 is the top half of a binary32: widening is a shift; narrowing rounds to nearest, ties to even, by adding
/// `0x7FFF + lsb` before the shift, and keeps NaN a (quiet) NaN. binary16 conversions follow F. Giesen's branch-free
/// formulations ("half_to_float", "float_to_half_fast3_rtne"), with the branches turned into lane selects.
public enum HalfConversion {
  // Everything is done on SIMD16<Int32> with arithmetic masks: Swift lowers comparisons of integer SIMD vectors
  // (`.<`, `.==`) to a lane-by-lane loop building the mask, so `lessMask` forms the mask from the sign of a
  // difference and `select` blends with and/andnot/or. Right shifts are arithmetic, which only changes bits above the
  // 16 that are kept.
  @usableFromInline typealias Bits = SIMD16<Int32>

  /// All ones in the lanes where `a < b`, zero elsewhere (valid while `a − b` does not overflow).
  @inline(__always) static func lessMask(_ a: Bits, _ b: Int32) -> Bits { (a &- b) &>> 31 }

  /// `mask ? a : b` lane by lane, for masks of all ones or all zeros.
  @inline(__always) static func select(_ mask: Bits, _ a: Bits, _ b: Bits) -> Bits {
    (a & mask) | (b & ~mask)
  }

  @inline(__always) static func loadBits(_ p: UnsafePointer<UInt16>) -> Bits {
    Bits(truncatingIfNeeded: UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt16>.self))
  }

  @inline(__always) static func storeBits(_ v: Bits, _ p: UnsafeMutablePointer<UInt16>) {
    UnsafeMutableRawPointer(p).storeBytes(
      of: SIMD16<UInt16>(truncatingIfNeeded: v), as: SIMD16<UInt16>.self)
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
  @inline(__always) static func floatToBFloat16Bits(_ f: Bits) -> Bits {
    let rounded = (f &+ 0x7FFF &+ ((f &>> 16) & 1)) &>> 16
    let quietNaN = (f &>> 16) | 0x0040
    let isNaN = lessMask(Bits(repeating: 0x7F80_0000) &- (f & 0x7FFF_FFFF), 0)
    return select(isNaN, quietNaN, rounded)
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
  /// Built with `-target-cpu native` (F16C) these compile to one `vcvtph2ps` / `vcvtps2ph` per eight values; in the
  /// baseline x86-64 build they are a library call per lane, and the bit-level conversions above are faster. Swift has
  /// no compile-time test for a CPU feature, so this is decided once, at first use, by timing both on 4096 values
  /// (both are correctly rounded, ties to even, so the choice changes the speed only). The standard library must be at
  /// least twice as fast to be chosen; the two cases differ by far more than that.
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

  /// Widens `count` bfloat16 values (bit patterns) to `Float`.
  public static func widen(
    bfloat16 src: UnsafePointer<UInt16>, to dst: UnsafeMutablePointer<Float>, count: Int
  ) {
    var i = 0
    while i + 16 <= count {
      storeFloatBits(bfloat16ToFloatBits(loadBits(src + i)), dst + i)
      i += 16
    }
    while i < count {
      dst[i] = Float(bitPattern: UInt32(src[i]) << 16)
      i += 1
    }
  }

  /// Rounds `count` `Float` values to bfloat16 bit patterns.
  public static func narrow(
    _ src: UnsafePointer<Float>, toBFloat16 dst: UnsafeMutablePointer<UInt16>, count: Int
  ) {
    var i = 0
    while i + 16 <= count {
      storeBits(floatToBFloat16Bits(loadFloatBits(src + i)), dst + i)
      i += 16
    }
    while i < count {
      dst[i] = bfloat16Bits(src[i])
      i += 1
    }
  }

  /// Widens `count` binary16 values (bit patterns) to `Float`.
  public static func widen(
    float16 src: UnsafePointer<UInt16>, to dst: UnsafeMutablePointer<Float>, count: Int
  ) {
    var i = 0
    if useHardwareFloat16 {
      while i + 8 <= count {
        let h = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float16>.self)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD8<Float>(h), as: SIMD8<Float>.self)
        i += 8
      }
    }
    while i + 16 <= count {
      storeFloatBits(float16ToFloatBits(loadBits(src + i)), dst + i)
      i += 16
    }
    while i < count {
      dst[i] = float(float16: src[i])
      i += 1
    }
  }

  /// Rounds `count` `Float` values to binary16 bit patterns.
  public static func narrow(
    _ src: UnsafePointer<Float>, toFloat16 dst: UnsafeMutablePointer<UInt16>, count: Int
  ) {
    var i = 0
    if useHardwareFloat16 {
      while i + 8 <= count {
        let f = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD8<Float16>(f), as: SIMD8<Float16>.self)
        i += 8
      }
    }
    while i + 16 <= count {
      storeBits(floatToFloat16Bits(loadFloatBits(src + i)), dst + i)
      i += 16
    }
    while i < count {
      dst[i] = float16Bits(src[i])
      i += 1
    }
  }

  /// Rounds one `Float` to a bfloat16 bit pattern (nearest, ties to even).
  public static func bfloat16Bits(_ x: Float) -> UInt16 {
    UInt16(
      truncatingIfNeeded: floatToBFloat16Bits(Bits(repeating: Int32(bitPattern: x.bitPattern)))[0])
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

/// Scratch `Float` rows reused by the half-precision kernels, so that the hot loop never allocates.
///
/// One workspace serves any number of calls, growing when a call needs more room; it is not safe to share one
/// workspace between threads at the same time.
public final class BatchWorkspace {
  /// Elements available in each of the two scratch buffers.
  public private(set) var capacity: Int
  var input: UnsafeMutablePointer<Float>
  var output: UnsafeMutablePointer<Float>

  /// A workspace with room for `capacity` `Float`s in each buffer (it grows on demand).
  public init(capacity: Int = 8192) {
    self.capacity = Swift.max(capacity, 16)
    input = .allocate(capacity: self.capacity)
    output = .allocate(capacity: self.capacity)
  }

  deinit {
    input.deallocate()
    output.deallocate()
  }

  /// Rows converted per chunk: about 4096 elements, but always at least one whole row.
  func rowsPerChunk(classes: Int) -> Int {
    let rows = Swift.max(1, 4096 / classes)
    reserve(rows * classes)
    return rows
  }

  func reserve(_ count: Int) {
    guard count > capacity else { return }
    input.deallocate()
    output.deallocate()
    capacity = count
    input = .allocate(capacity: count)
    output = .allocate(capacity: count)
  }
}

/// The two 16-bit storage formats the half-precision kernels accept (both as `UInt16` bit patterns).
public enum HalfFormat: Sendable {
  /// IEEE 754 binary16 (`Float16`).
  case float16
  /// bfloat16: the top 16 bits of a binary32.
  case bfloat16
}

extension BatchSoftmax {
  /// Runs a softmax kernel (`naive`, `stable` or `online`) on 16-bit logits given as bit patterns, writing 16-bit
  /// probabilities: each chunk of rows is widened to `Float`, run through the `Float` kernel and rounded back.
  public static func softmax(
    _ kernel: Kernel, _ format: HalfFormat, _ logits: UnsafeBufferPointer<UInt16>, rows: Int,
    classes: Int,
    into probabilities: UnsafeMutableBufferPointer<UInt16>, workspace: BatchWorkspace
  ) {
    precondition(
      kernel != .fused, "BatchSoftmax.softmax: use fused(_:_:rows:classes:...) for the fused kernel"
    )
    checkShape(logits.count, rows, classes, "BatchSoftmax.softmax: logits too short")
    checkShape(probabilities.count, rows, classes, "BatchSoftmax.softmax: output too short")
    guard let x = logits.baseAddress, let out = probabilities.baseAddress else { return }
    let chunk = workspace.rowsPerChunk(classes: classes)
    var r = 0
    while r < rows {
      let n = Swift.min(chunk, rows - r)
      let offset = r * classes
      let count = n * classes
      widen(format, x + offset, workspace.input, count)
      for k in 0..<n {
        floatRow(kernel, workspace.input + k * classes, classes, workspace.output + k * classes)
      }
      narrow(format, workspace.output, out + offset, count)
      r += n
    }
  }

  /// The fused softmax + cross-entropy kernel on 16-bit logits (bit patterns): `upstream` and the outputs `loss` and
  /// `gradient` are in the same 16-bit format. See ``fused(_:rows:classes:targets:upstream:loss:gradient:)-(UnsafeBufferPointer<Float>,_,_,_,_,_,_)``.
  public static func fused(
    _ format: HalfFormat, _ logits: UnsafeBufferPointer<UInt16>, rows: Int, classes: Int,
    targets: UnsafeBufferPointer<Int>, upstream: UnsafeBufferPointer<UInt16>,
    loss: UnsafeMutableBufferPointer<UInt16>, gradient: UnsafeMutableBufferPointer<UInt16>,
    workspace: BatchWorkspace
  ) {
    checkShape(logits.count, rows, classes, "BatchSoftmax.fused: logits too short")
    checkShape(gradient.count, rows, classes, "BatchSoftmax.fused: gradient too short")
    precondition(
      targets.count >= rows && upstream.count >= rows && loss.count >= rows,
      "BatchSoftmax.fused: per-row arrays too short")
    guard let x = logits.baseAddress, let out = gradient.baseAddress else { return }
    let chunk = workspace.rowsPerChunk(classes: classes)
    var r = 0
    while r < rows {
      let n = Swift.min(chunk, rows - r)
      let offset = r * classes
      let count = n * classes
      widen(format, x + offset, workspace.input, count)
      for k in 0..<n {
        let g = scalarWiden(format, upstream[r + k])
        let l = floatFusedRow(
          workspace.input + k * classes, classes, targets[r + k], g, workspace.output + k * classes)
        loss[r + k] = scalarNarrow(format, Float(l))
      }
      narrow(format, workspace.output, out + offset, count)
      r += n
    }
  }

  @inline(__always) static func widen(
    _ format: HalfFormat, _ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>,
    _ count: Int
  ) {
    switch format {
    case .float16: HalfConversion.widen(float16: src, to: dst, count: count)
    case .bfloat16: HalfConversion.widen(bfloat16: src, to: dst, count: count)
    }
  }

  @inline(__always) static func narrow(
    _ format: HalfFormat, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>,
    _ count: Int
  ) {
    switch format {
    case .float16: HalfConversion.narrow(src, toFloat16: dst, count: count)
    case .bfloat16: HalfConversion.narrow(src, toBFloat16: dst, count: count)
    }
  }

  static func scalarWiden(_ format: HalfFormat, _ bits: UInt16) -> Float {
    switch format {
    case .float16: HalfConversion.float(float16: bits)
    case .bfloat16: HalfConversion.float(bfloat16: bits)
    }
  }

  static func scalarNarrow(_ format: HalfFormat, _ x: Float) -> UInt16 {
    switch format {
    case .float16: HalfConversion.float16Bits(x)
    case .bfloat16: HalfConversion.bfloat16Bits(x)
    }
  }
}
