// This module is compiled twice. `SoftmaxKernels` is the baseline x86-64 (SSE2) copy; `SoftmaxKernelsV3` is the same
// source (Sources/SoftmaxKernelsV3 is a symlink to this directory) compiled with `-target-cpu haswell` (the x86-64-v3
// feature set: AVX2, FMA, F16C, BMI1/2, LZCNT, MOVBE) and the compilation conditions `SOFTMAX_V3`, `SOFTMAX_FMA`,
// `SOFTMAX_F16C` (Package.swift). SoftmaxBench's `BatchSoftmax` chooses one copy at run time (`KernelISA`); nothing in
// the v3 copy may run unless the CPU and OS support that feature set. For that reason nothing here is `@inlinable`:
// every call from SoftmaxBench goes to code compiled for the ISA it dispatched to. The row passes are generic
// (RowPasses.swift) but internal: they are specialised inside each copy, under that copy's own symbol names.
//
// One more trap: a standard-library generic that is specialised but not inlined here (say `SIMD16<Int32>.init(
// truncatingIfNeeded: SIMD16<UInt16>)`) becomes a weak symbol with the same mangled name in both copies, and the linker
// keeps one of them for both: baseline code could then call AVX2 code. Generic code makes this easy to trip, so:
// `KernelFormat` is conformed to by this module's own enums (a conformance of `SIMD16<Float>` emits weak witness-table
// accessors and metadata caches), its witnesses use no non-inlined standard-library generics (`lowHalf`, `sum()`),
// and no protocol here has a same-type constraint to a concrete format. `scripts/check-kernel-symbols.sh` checks that
// the v3 objects define no weak symbol but their own, `symbolic` names, `__swift_reflection_version` and `got.` data
// cells (data, not code); run it after changing this module.

/// The batch softmax and cross-entropy kernels of one instruction set, on raw row-major `rows × classes` buffers.
///
/// These are the implementations behind SoftmaxBench's `BatchSoftmax`, which checks shapes and chooses between the
/// baseline and the x86-64-v3 copy of this module; call that instead.
public enum BatchKernels {
  #if SOFTMAX_V3
    /// The instruction set this copy of the module was compiled for.
    public static let instructionSet = "x86-64-v3"
  #else
    /// The instruction set this copy of the module was compiled for.
    public static let instructionSet = "baseline"
  #endif

  /// `Float` lanes per vector in the `Float` kernels.
  public static let floatLanes = VectorExp.FloatVector.scalarCount

  /// The kernels of one scalar format on `rows × classes` buffers, as `(x, rows, classes, …)`: naive, stable and
  /// online softmax into `out`, and the fused softmax + cross-entropy loss and gradient (`targets`, `upstream`,
  /// `loss`, `gradient`; the loss is rounded from `Double` once). A tuple, so that both copies of this module give
  /// values of the same type.
  public typealias Kernels<T> = (naive: Softmax<T>, stable: Softmax<T>, online: Softmax<T>, fused: Fused<T>)
  /// A softmax kernel: `(x, rows, classes, out)`.
  public typealias Softmax<T> = @Sendable (UnsafePointer<T>, Int, Int, UnsafeMutablePointer<T>) -> Void
  /// The fused kernel: `(x, rows, classes, targets, upstream, loss, gradient)`.
  public typealias Fused<T> =
    @Sendable (
      UnsafePointer<T>, Int, Int, UnsafePointer<Int>, UnsafePointer<T>, UnsafeMutablePointer<T>, UnsafeMutablePointer<T>
    ) -> Void

  /// The `Float` kernels (sixteen lanes).
  public static let float = kernels(FloatLanes.self)
  /// The `Double` kernels (eight lanes).
  public static let double = kernels(DoubleLanes.self)

  /// The row passes of `F`'s format, row after row.
  private static func kernels<F: KernelFormat>(_: F.Type) -> Kernels<F.Scalar> {
    (
      naive: { x, rows, c, out in for r in 0..<rows { rowNaive(x + r * c, c, out + r * c, F.self) } },
      stable: { x, rows, c, out in for r in 0..<rows { rowStable(x + r * c, c, out + r * c, F.self) } },
      online: { x, rows, c, out in for r in 0..<rows { rowOnline(x + r * c, c, out + r * c, F.self) } },
      fused: { x, rows, c, targets, upstream, loss, gradient in
        for r in 0..<rows {
          loss[r] = F.narrowed(rowFused(x + r * c, c, targets[r], upstream[r], gradient + r * c, F.self))
        }
      }
    )
  }

  #if SOFTMAX_FMA
    /// Whether the exponential's multiply-adds are fused (one rounding each).
    public static let fusedMultiplyAdd = true
  #else
    /// Whether the exponential's multiply-adds are fused (one rounding each).
    public static let fusedMultiplyAdd = false
  #endif
}
