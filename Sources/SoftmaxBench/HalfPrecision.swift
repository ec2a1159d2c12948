import SoftmaxCore
internal import SoftmaxKernels

// Float16 and bfloat16 batch kernels: for naive, stable and online, rows are widened to Float a chunk at a time, run
// through the Float kernel of the chosen ISA and rounded back once; the fused kernel converts inside its own passes. The conversions themselves live in the kernel modules (`HalfBits`): bit-level
// vector code in the baseline copy, F16C instructions for binary16 in the x86-64-v3 copy.

/// Bulk conversions between `Float` and the 16-bit formats, on raw bit patterns (`UInt16`).
///
/// bfloat16 is the top half of a binary32: widening is a shift; narrowing rounds to nearest, ties to even, and keeps
/// NaN a (quiet) NaN. binary16 conversions are correctly rounded (ties to even), with subnormals, infinities and NaN.
/// The bulk conversions take an `isa:` argument like ``BatchSoftmax``'s kernels; the results are the same for both.
public enum HalfConversion {
  /// Widens `count` values of `format` (bit patterns) to `Float` (exactly).
  public static func widen(
    _ format: HalfFormat, _ src: UnsafePointer<UInt16>, to dst: UnsafeMutablePointer<Float>, count: Int,
    isa: KernelISA = .selected
  ) {
    KernelTable.of(isa).widen(format)(src, dst, count)
  }

  /// Rounds `count` `Float` values to bit patterns of `format` (to nearest, ties to even).
  public static func narrow(
    _ format: HalfFormat, _ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<UInt16>, count: Int,
    isa: KernelISA = .selected
  ) {
    KernelTable.of(isa).narrow(format)(src, dst, count)
  }

  /// Rounds one `Float` to a bfloat16 bit pattern (nearest, ties to even).
  public static func bfloat16Bits(_ x: Float) -> UInt16 { HalfBits.bfloat16Bits(x) }

  /// The exact `Float` value of a bfloat16 bit pattern.
  public static func float(bfloat16 bits: UInt16) -> Float { HalfBits.float(bfloat16: bits) }

  /// Rounds one `Float` to a binary16 bit pattern (nearest, ties to even).
  public static func float16Bits(_ x: Float) -> UInt16 { HalfBits.float16Bits(x) }

  /// The exact `Float` value of a binary16 bit pattern.
  public static func float(float16 bits: UInt16) -> Float { HalfBits.float(float16: bits) }
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
    into probabilities: UnsafeMutableBufferPointer<UInt16>, workspace: BatchWorkspace,
    isa: KernelISA = .selected
  ) {
    precondition(
      kernel != .fused, "BatchSoftmax.softmax: use fused(_:_:rows:classes:...) for the fused kernel"
    )
    checkShape(logits.count, rows, classes, "BatchSoftmax.softmax: logits too short")
    checkShape(probabilities.count, rows, classes, "BatchSoftmax.softmax: output too short")
    guard let x = logits.baseAddress, let out = probabilities.baseAddress else { return }
    let table = KernelTable.of(isa)
    let (widen, run, narrow) = (table.widen(format), softmaxKernel(kernel, in: table.float), table.narrow(format))
    let chunk = workspace.rowsPerChunk(classes: classes)
    var r = 0
    while r < rows {
      let n = Swift.min(chunk, rows - r)
      let offset = r * classes
      let count = n * classes
      widen(x + offset, workspace.input, count)
      run(workspace.input, n, classes, workspace.output)
      narrow(workspace.output, out + offset, count)
      r += n
    }
  }

  /// The fused softmax + cross-entropy kernel on 16-bit logits (bit patterns): `upstream` and the outputs `loss` and
  /// `gradient` are in the same 16-bit format. See
  /// ``fused(_:rows:classes:targets:upstream:loss:gradient:isa:)``.
  ///
  /// Unlike the other half-precision kernels this one converts inside its passes: the logits are widened to `Float`
  /// as they are loaded and the gradient is rounded as it is stored; `workspace` provides one `Float` row for the
  /// exponentials. The results are those of widening, running the `Float` kernel and rounding back
  /// (float16 bit for bit; bfloat16 sums the exponentials in another lane order, so a result may be the neighbouring
  /// bfloat16).
  public static func fused(
    _ format: HalfFormat, _ logits: UnsafeBufferPointer<UInt16>, rows: Int, classes: Int,
    targets: UnsafeBufferPointer<Int>, upstream: UnsafeBufferPointer<UInt16>,
    loss: UnsafeMutableBufferPointer<UInt16>, gradient: UnsafeMutableBufferPointer<UInt16>,
    workspace: BatchWorkspace, isa: KernelISA = .selected
  ) {
    checkFused(logits.count, gradient.count, targets.count, upstream.count, loss.count, rows, classes)
    guard let x = logits.baseAddress, let out = gradient.baseAddress, let t = targets.baseAddress, rows > 0 else {
      return
    }
    workspace.reserve(classes)
    KernelTable.of(isa).fused(format)(
      x, rows, classes, t, upstream.baseAddress!, loss.baseAddress!, out, workspace.output)
  }
}
