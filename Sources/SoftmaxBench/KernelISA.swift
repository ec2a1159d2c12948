internal import CCPUID
import SoftmaxCore

/// The instruction sets the batch kernels are compiled for, and the run-time choice between them.
///
/// The kernels behind ``BatchSoftmax`` are one source compiled twice: for baseline x86-64 (SSE2, what a plain
/// `swift build -c release` targets) and, on x86-64, for the x86-64-v3 feature set (AVX2, FMA, F16C, BMI1/2, LZCNT,
/// MOVBE). Swift has no per-function target attributes, so this is how the plain build reaches AVX2 and FMA without
/// giving up CPUs that lack them: each call dispatches to the copy chosen here, as numpy and glibc do.
public enum KernelISA: String, CaseIterable, Sendable, CustomStringConvertible {
  /// Baseline x86-64 (SSE2), or whatever the package is built for on other architectures. Always supported.
  case baseline
  /// x86-64-v3: AVX2 + FMA + F16C (`-target-cpu haswell`). 256-bit ymm vectors, fused multiply-adds in the
  /// exponential, hardware binary16 conversions.
  case v3

  /// `baseline` or `x86-64-v3`.
  public var description: String {
    switch self {
    case .baseline: "baseline"
    case .v3: "x86-64-v3"
    }
  }

  /// Parses `baseline`, `v3`, `x86-64-v3` or `x86_64_v3` (case-insensitive).
  public init?(name: String) {
    switch name.lowercased() {
    case "baseline": self = .baseline
    case "v3", "x86-64-v3", "x86_64_v3": self = .v3
    default: return nil
    }
  }

  /// Whether the x86-64-v3 copy of the kernels is part of this build (only when the package is built on x86-64).
  public static var v3IsCompiledIn: Bool {
    #if canImport(SoftmaxKernelsV3)
      true
    #else
      false
    #endif
  }

  /// Whether this process can run the kernels of this ISA: compiled in, and supported by the CPU and the OS.
  public var isSupported: Bool {
    switch self {
    case .baseline: true
    case .v3: KernelISA.cpuHasV3
    }
  }

  /// cpuid and xgetbv, read once: the whole x86-64-v3 feature set, with the OS saving the YMM state.
  private static let cpuHasV3: Bool = v3IsCompiledIn && ccpuid_x86_64_v3_supported() != 0

  /// The best instruction set this CPU supports: ``v3`` when compiled in and the CPU and OS support it,
  /// ``baseline`` otherwise. Computed once per process.
  public static let detected: KernelISA = cpuHasV3 ? .v3 : .baseline

  /// The instruction set used when a call does not name one: the environment variable `SOFTMAX_LAB_ISA`
  /// (`baseline` or `v3`) when it is set to a supported value, ``detected`` otherwise. Read once per process; see
  /// ``overrideNote`` for an override that was not applied.
  public static let selected: KernelISA = selection.isa

  /// Why `SOFTMAX_LAB_ISA` was not applied (an unknown value, or `v3` on a CPU without it), or `nil`.
  public static let overrideNote: String? = selection.note

  private static let selection: (isa: KernelISA, note: String?) = {
    guard let raw = ccpuid_isa_override() else { return (detected, nil) }
    let value = String(cString: raw)
    guard let isa = KernelISA(name: value) else {
      return (detected, "SOFTMAX_LAB_ISA=\(value) ignored (expected baseline or v3); using \(detected)")
    }
    guard isa.isSupported else {
      return (detected, "SOFTMAX_LAB_ISA=\(value) ignored: this CPU or build lacks \(isa); using \(detected)")
    }
    return (isa, nil)
  }()

  /// `self`, after checking that this process can run it (an unsupported ISA would fault on its first instruction).
  @inline(__always) func checked() -> KernelISA {
    precondition(isSupported, "BatchSoftmax: the \(self) kernels are not supported on this CPU or build")
    return self
  }
}
