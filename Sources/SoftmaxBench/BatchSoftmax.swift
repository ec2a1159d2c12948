import SoftmaxCore

/// Batched softmax and cross-entropy kernels over row-major `rows × classes` buffers.
///
/// These are the fast counterparts of the teaching formulas in ``Softmax`` and ``CrossEntropy``: the same math, but
/// over a whole batch, without allocation, a vector at a time with a polynomial exponential (`VectorExp` in the
/// SoftmaxKernels module). Every kernel reads row `r` from `logits[r·classes ..< (r+1)·classes]` and writes the same
/// range of its output; the output may not overlap the input.
///
/// Instruction sets: the kernels are compiled twice, for baseline x86-64 (sixteen `Float` lanes in xmm registers,
/// separate multiply and add) and for x86-64-v3 (AVX2 + FMA + F16C); every entry point takes an `isa:` argument,
/// by default ``KernelISA/selected`` (the best the CPU supports, or the `SOFTMAX_LAB_ISA` override). Both copies
/// meet the same accuracy bounds; their results may differ in the last bit (fused multiply-adds round once).
///
/// | kernel | passes over a row | `e^{·}` per element |
/// |---|---|---|
/// | `naive` (``softmax(_:_:rows:classes:into:isa:)``) | exp + sum, divide | 1 (overflows for `x > ln(max)`) |
/// | `stable` | max, exp + sum (stored), scale | 1 |
/// | `online` | running max + rescaled sum, exp + scale | 3 (two in the first pass, one in the second) |
/// | `fused` | max, exp + sum (stored), scale − target | 1, and it also writes the loss |
///
/// Accuracy: each `e^{x_i − M}` is evaluated for the *exact* difference. In the `Float` `stable` and `fused` kernels,
/// rows with `|M| ≤ 512` and `min − M ≥ −86` (the common case) are shifted by `S = n·ln 2 ≈ M` instead of `M`: the
/// exponential reduces `x_i` itself exactly and subtracts `n` from the exponent, so no rounding error arises at all
/// (`KernelFormat.expShifted(_:magic:)` in the SoftmaxKernels module). Other rows, and every `Double` row, recover the rounding error of
/// `x_i − M` with a two-sum and fold it into the reduced argument. The sum is accumulated per lane in short blocks and finished in
/// `Double`, and the loss is `(M − x_T) + log σ` computed in `Double`. For `Float` and `Double` the fused gradient and
/// loss are then within a few ulps of the exact result (the tests check 4 ulps). Half-precision inputs (`Float16`,
/// and bfloat16 stored as `UInt16` bit patterns) are computed in `Float` and rounded back once: `naive`, `stable` and
/// `online` convert a chunk of rows at a time around the `Float` kernel; `fused` widens the logits as its passes load
/// them and rounds the gradient as it stores it (no conversion passes; the same results up to the summation order).
///
/// Rows whose logits are all `−∞` (or contain NaN or `+∞`) give NaN; `−∞` entries in an otherwise finite row give an
/// exact `0` probability (a masked class).
public enum BatchSoftmax {
  /// The kernels of the benchmark, by name.
  public enum Kernel: String, CaseIterable, Sendable {
    /// `s_i = e^{x_i} / Σ e^{x_j}` as written: overflows and underflows like the textbook formula.
    case naive
    /// Max-subtracted, three passes: max, exponentials (stored) and their sum, scale.
    case stable
    /// Online (Milakov & Gimelshein): running max and rescaled running sum in one pass, then exponentials again.
    case online
    /// Stable softmax, cross-entropy loss and its gradient `g·(s − e_T)` in one kernel.
    case fused
  }

  @usableFromInline @inline(__always)
  static func checkShape(_ count: Int, _ rows: Int, _ classes: Int, _ name: StaticString) {
    precondition(rows >= 0 && classes >= 1, "BatchSoftmax: need rows >= 0 and classes >= 1")
    precondition(count >= rows * classes, "\(name)")
  }

  // MARK: Float and Double entry points

  /// Runs a softmax kernel (`naive`, `stable` or `online`) on each row of `Float` or `Double` logits.
  ///
  /// - `naive`: `s_i = e^{x_i} / Σ_j e^{x_j}`, exactly as the formula reads (a true division). Overflows
  ///   (`inf/inf = NaN` at the overflowing entries, `0` elsewhere) when some `x_i > ln(greatestFinite)`, and gives
  ///   `0/0 = NaN` when every `e^{x_i}` underflows — that is what it is here to show.
  /// - `stable`: three passes, `M = max x`, then `e^{x_i − M}` stored and summed, then scaled by `1/σ`. Never
  ///   overflows; `−∞` entries give exactly 0.
  /// - `online`: two passes over the input, a lane-wise running max `m` and running sum `d ← d·e^{m − m'} +
  ///   e^{x − m'}`, merged across lanes; then `e^{x_i − M}/σ`. Three exponentials per element.
  public static func softmax<T: BatchScalar>(
    _ kernel: Kernel, _ logits: UnsafeBufferPointer<T>, rows: Int, classes: Int,
    into probabilities: UnsafeMutableBufferPointer<T>, isa: KernelISA = .selected
  ) {
    checkShape(logits.count, rows, classes, "BatchSoftmax.softmax: logits too short")
    checkShape(probabilities.count, rows, classes, "BatchSoftmax.softmax: output too short")
    guard let x = logits.baseAddress, let out = probabilities.baseAddress else { return }
    softmaxKernel(kernel, in: T.kernels(isa))(x, rows, classes, out)
  }

  /// The raw `naive`, `stable` or `online` kernel of a format's set.
  static func softmaxKernel<T>(_ kernel: Kernel, in set: BatchKernelSet<T>) -> BatchSoftmaxKernel<T> {
    switch kernel {
    case .naive: set.naive
    case .stable: set.stable
    case .online: set.online
    case .fused: preconditionFailure("BatchSoftmax.softmax: use fused(_:rows:classes:...) for the fused kernel")
    }
  }

  /// Softmax + cross-entropy forward and backward in one kernel, on `Float` or `Double` rows.
  ///
  /// For each row `r` with target class `T = targets[r]` and upstream gradient `g = upstream[r]`:
  /// `loss[r] = LSE(x) − x_T` (computed as `(M − x_T) + log σ` in `Double`) and
  /// `gradient[r·C + n] = g·(s_n − δ_nT)`. The target entry is formed as `−g·(σ − e_T)/σ`, so it keeps its relative
  /// accuracy when `s_T` is close to 1. A masked target (`x_T = −∞`) gives `loss = +inf`.
  public static func fused<T: BatchScalar>(
    _ logits: UnsafeBufferPointer<T>, rows: Int, classes: Int,
    targets: UnsafeBufferPointer<Int>, upstream: UnsafeBufferPointer<T>,
    loss: UnsafeMutableBufferPointer<T>, gradient: UnsafeMutableBufferPointer<T>,
    isa: KernelISA = .selected
  ) {
    checkFused(logits.count, gradient.count, targets.count, upstream.count, loss.count, rows, classes)
    guard let x = logits.baseAddress, let out = gradient.baseAddress, rows > 0 else { return }
    T.kernels(isa).fused(x, rows, classes, targets.baseAddress!, upstream.baseAddress!, loss.baseAddress!, out)
  }

  static func checkFused(
    _ logits: Int, _ gradient: Int, _ targets: Int, _ upstream: Int, _ loss: Int, _ rows: Int, _ classes: Int
  ) {
    checkShape(logits, rows, classes, "BatchSoftmax.fused: logits too short")
    checkShape(gradient, rows, classes, "BatchSoftmax.fused: gradient too short")
    precondition(
      targets >= rows && upstream >= rows && loss >= rows, "BatchSoftmax.fused: per-row arrays too short")
  }
}

/// A scalar format with SIMD batch kernels: `Float` (sixteen lanes) and `Double` (eight). The kernels are one generic
/// source in the SoftmaxKernels module, specialised there for each format and each instruction set.
public protocol BatchScalar: BinaryFloatingPoint {
  /// This format's kernels compiled for `isa` (which must be supported; checked).
  static func kernels(_ isa: KernelISA) -> BatchKernelSet<Self>
}

/// The raw kernels of one format, as `(x, rows, classes, …)` on row-major buffers: what ``BatchSoftmax``'s checked
/// entry points call. The same tuple type as each kernel module's `BatchKernels.Kernels`.
public typealias BatchKernelSet<T> = (
  naive: BatchSoftmaxKernel<T>, stable: BatchSoftmaxKernel<T>, online: BatchSoftmaxKernel<T>,
  fused:
    @Sendable (
      UnsafePointer<T>, Int, Int, UnsafePointer<Int>, UnsafePointer<T>, UnsafeMutablePointer<T>, UnsafeMutablePointer<T>
    ) -> Void
)

/// A raw softmax kernel: `(x, rows, classes, out)`.
public typealias BatchSoftmaxKernel<T> = @Sendable (UnsafePointer<T>, Int, Int, UnsafeMutablePointer<T>) -> Void

extension Float: BatchScalar {
  /// The `Float` kernels of `isa`.
  public static func kernels(_ isa: KernelISA) -> BatchKernelSet<Float> { KernelTable.of(isa).float }
}

extension Double: BatchScalar {
  /// The `Double` kernels of `isa`.
  public static func kernels(_ isa: KernelISA) -> BatchKernelSet<Double> { KernelTable.of(isa).double }
}
