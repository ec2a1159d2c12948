import SoftmaxCore
internal import SoftmaxKernels

#if canImport(SoftmaxKernelsV3)
  internal import SoftmaxKernelsV3
#endif

/// The entry points of one compiled copy of the kernel module (SoftmaxKernels or SoftmaxKernelsV3): what
/// ``BatchSoftmax`` calls after choosing a ``KernelISA``. Function values, so that each public entry point dispatches
/// with one table lookup instead of repeating a switch over the ISAs.
struct KernelTable: Sendable {
  /// The fused kernel on 16-bit rows (bit patterns), with a scratch row of `classes` `Float`s.
  typealias FusedHalf =
    @Sendable (
      UnsafePointer<UInt16>, Int, Int, UnsafePointer<Int>, UnsafePointer<UInt16>, UnsafeMutablePointer<UInt16>,
      UnsafeMutablePointer<UInt16>, UnsafeMutablePointer<Float>
    ) -> Void
  typealias Convert<A, B> = @Sendable (UnsafePointer<A>, UnsafeMutablePointer<B>, Int) -> Void

  /// The naive, stable, online and fused kernels of `Float` and of `Double`.
  var float: BatchKernelSet<Float>
  var double: BatchKernelSet<Double>
  var fusedFloat16: FusedHalf
  var fusedBFloat16: FusedHalf
  var widenFloat16: Convert<UInt16, Float>
  var narrowFloat16: Convert<Float, UInt16>
  var widenBFloat16: Convert<UInt16, Float>
  var narrowBFloat16: Convert<Float, UInt16>
  /// `Float` lanes per vector, and whether the exponential uses fused multiply-adds (for reports).
  var floatLanes: Int
  var fusedMultiplyAdd: Bool

  /// The table of `isa`, which must be supported by this process (checked).
  @inline(__always) static func of(_ isa: KernelISA) -> KernelTable {
    switch isa.checked() {
    case .baseline: baseline
    case .v3: KernelTable.v3!
    }
  }

  func widen(_ format: HalfFormat) -> Convert<UInt16, Float> {
    format == .float16 ? widenFloat16 : widenBFloat16
  }

  func narrow(_ format: HalfFormat) -> Convert<Float, UInt16> {
    format == .float16 ? narrowFloat16 : narrowBFloat16
  }

  func fused(_ format: HalfFormat) -> FusedHalf {
    format == .float16 ? fusedFloat16 : fusedBFloat16
  }

  static let baseline = KernelTable(
    float: SoftmaxKernels.BatchKernels.float,
    double: SoftmaxKernels.BatchKernels.double,
    fusedFloat16: SoftmaxKernels.BatchKernels.fused(float16:rows:classes:targets:upstream:loss:gradient:scratch:),
    fusedBFloat16: SoftmaxKernels.BatchKernels.fused(bfloat16:rows:classes:targets:upstream:loss:gradient:scratch:),
    widenFloat16: SoftmaxKernels.HalfBits.widen(float16:to:count:),
    narrowFloat16: SoftmaxKernels.HalfBits.narrow(_:toFloat16:count:),
    widenBFloat16: SoftmaxKernels.HalfBits.widen(bfloat16:to:count:),
    narrowBFloat16: SoftmaxKernels.HalfBits.narrow(_:toBFloat16:count:),
    floatLanes: SoftmaxKernels.BatchKernels.floatLanes,
    fusedMultiplyAdd: SoftmaxKernels.BatchKernels.fusedMultiplyAdd)

  #if canImport(SoftmaxKernelsV3)
    static let v3: KernelTable? = KernelTable(
      float: SoftmaxKernelsV3.BatchKernels.float,
      double: SoftmaxKernelsV3.BatchKernels.double,
      fusedFloat16: SoftmaxKernelsV3.BatchKernels.fused(float16:rows:classes:targets:upstream:loss:gradient:scratch:),
      fusedBFloat16: SoftmaxKernelsV3.BatchKernels.fused(bfloat16:rows:classes:targets:upstream:loss:gradient:scratch:),
      widenFloat16: SoftmaxKernelsV3.HalfBits.widen(float16:to:count:),
      narrowFloat16: SoftmaxKernelsV3.HalfBits.narrow(_:toFloat16:count:),
      widenBFloat16: SoftmaxKernelsV3.HalfBits.widen(bfloat16:to:count:),
      narrowBFloat16: SoftmaxKernelsV3.HalfBits.narrow(_:toBFloat16:count:),
      floatLanes: SoftmaxKernelsV3.BatchKernels.floatLanes,
      fusedMultiplyAdd: SoftmaxKernelsV3.BatchKernels.fusedMultiplyAdd)
  #else
    static let v3: KernelTable? = nil
  #endif
}

extension KernelISA {
  /// `Float` lanes per vector in this ISA's `Float` kernels (16 or 8).
  public var floatLanes: Int { KernelTable.of(self).floatLanes }
  /// Whether this ISA's exponential uses fused multiply-adds.
  public var usesFusedMultiplyAdd: Bool { KernelTable.of(self).fusedMultiplyAdd }
}
