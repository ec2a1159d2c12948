import Foundation
import RealModule
import SoftmaxCore
import Testing

@testable import SoftmaxBench

// Correctness of the batch kernels (BatchSoftmax) against the generic core (`Softmax.stable`, `Softmax.logSumExp`)
// evaluated in Float80, for every kernel and precision, in both compiled copies (baseline x86-64 and x86-64-v3; the
// latter only where the CPU supports it, see `v3KernelsAreTestedOnThisCPU`). No timing assertions.

#if arch(x86_64) && !os(Windows) && !os(Android)

  /// The storage formats the batch kernels run in.
  enum BatchPrecision: CaseIterable, CustomStringConvertible {
    case float16, bfloat16, float32, float64

    var description: String {
      switch self {
      case .float16: "float16"
      case .bfloat16: "bfloat16"
      case .float32: "float32"
      case .float64: "float64"
      }
    }

    /// Rounds a Double into the format (via our bit helpers for the 16-bit ones).
    func round(_ x: Double) -> Double {
      switch self {
      case .float64: x
      case .float32: Double(Float(x))
      case .float16: Double(HalfConversion.float(float16: HalfConversion.float16Bits(Float(x))))
      case .bfloat16: Double(HalfConversion.float(bfloat16: HalfConversion.bfloat16Bits(Float(x))))
      }
    }

    var epsilon: Double {
      switch self {
      case .float64: 0x1p-52
      case .float32: 0x1p-23
      case .float16: 0x1p-10
      case .bfloat16: 0x1p-7
      }
    }

    var leastNormal: Double {
      switch self {
      case .float64: Double.leastNormalMagnitude
      case .float32, .bfloat16: Double(Float.leastNormalMagnitude)
      case .float16: 0x1p-14
      }
    }

    /// One ulp of `x` in this format (the ulp of the least normal for smaller magnitudes).
    func ulp(_ x: Double) -> Double {
      let a = Swift.max(abs(x), leastNormal)
      return Double(sign: .plus, exponent: a.exponent, significand: 1) * epsilon
    }
  }

  /// The kernel copies this machine can run: baseline always, x86-64-v3 when the CPU and OS support it.
  let testedISAs = KernelISA.allCases.filter(\.isSupported)

  /// Every tested ISA with every precision.
  let isaPrecisions = testedISAs.flatMap { isa in BatchPrecision.allCases.map { (isa, $0) } }

  /// Every tested ISA with float32 and float64.
  let isaWidePrecisions = testedISAs.flatMap { isa in [BatchPrecision.float32, .float64].map { (isa, $0) } }

  /// Runs one kernel over `rows × classes` logits (already representable in `precision`); returns the probabilities
  /// (or, for `fused`, the gradient) and the per-row losses as Doubles.
  func runBatch(
    _ kernel: BatchSoftmax.Kernel, _ precision: BatchPrecision, _ x: [Double], rows: Int,
    classes: Int,
    targets: [Int] = [], upstream: [Double] = [], isa: KernelISA
  ) -> (out: [Double], loss: [Double]) {
    let n = rows * classes
    let targets = targets.isEmpty ? [Int](repeating: 0, count: rows) : targets
    let upstream = upstream.isEmpty ? [Double](repeating: 1, count: rows) : upstream
    switch precision {
    case .float32:
      let xs = x.map { Float($0) }
      let gs = upstream.map { Float($0) }
      var out = [Float](repeating: .nan, count: n)
      var loss = [Float](repeating: .nan, count: rows)
      xs.withUnsafeBufferPointer { xp in
        out.withUnsafeMutableBufferPointer { op in
          switch kernel {
          case .naive, .stable, .online:
            BatchSoftmax.softmax(kernel, xp, rows: rows, classes: classes, into: op, isa: isa)
          case .fused:
            targets.withUnsafeBufferPointer { tp in
              gs.withUnsafeBufferPointer { gp in
                loss.withUnsafeMutableBufferPointer { lp in
                  BatchSoftmax.fused(
                    xp, rows: rows, classes: classes, targets: tp, upstream: gp, loss: lp,
                    gradient: op, isa: isa)
                }
              }
            }
          }
        }
      }
      return (out.map(Double.init), loss.map(Double.init))
    case .float64:
      var out = [Double](repeating: .nan, count: n)
      var loss = [Double](repeating: .nan, count: rows)
      x.withUnsafeBufferPointer { xp in
        out.withUnsafeMutableBufferPointer { op in
          switch kernel {
          case .naive, .stable, .online:
            BatchSoftmax.softmax(kernel, xp, rows: rows, classes: classes, into: op, isa: isa)
          case .fused:
            targets.withUnsafeBufferPointer { tp in
              upstream.withUnsafeBufferPointer { gp in
                loss.withUnsafeMutableBufferPointer { lp in
                  BatchSoftmax.fused(
                    xp, rows: rows, classes: classes, targets: tp, upstream: gp, loss: lp,
                    gradient: op, isa: isa)
                }
              }
            }
          }
        }
      }
      return (out, loss)
    case .float16, .bfloat16:
      let format: HalfFormat = precision == .float16 ? .float16 : .bfloat16
      func bits(_ v: Double) -> UInt16 {
        format == .float16
          ? HalfConversion.float16Bits(Float(v)) : HalfConversion.bfloat16Bits(Float(v))
      }
      func value(_ b: UInt16) -> Double {
        Double(
          format == .float16 ? HalfConversion.float(float16: b) : HalfConversion.float(bfloat16: b))
      }
      let xs = x.map(bits)
      let gs = upstream.map(bits)
      var out = [UInt16](repeating: 0x7E00, count: n)
      var loss = [UInt16](repeating: 0x7E00, count: rows)
      let workspace = BatchWorkspace(capacity: 16)
      xs.withUnsafeBufferPointer { xp in
        out.withUnsafeMutableBufferPointer { op in
          if kernel == .fused {
            targets.withUnsafeBufferPointer { tp in
              gs.withUnsafeBufferPointer { gp in
                loss.withUnsafeMutableBufferPointer { lp in
                  BatchSoftmax.fused(
                    format, xp, rows: rows, classes: classes, targets: tp, upstream: gp, loss: lp,
                    gradient: op, workspace: workspace, isa: isa)
                }
              }
            }
          } else {
            BatchSoftmax.softmax(
              kernel, format, xp, rows: rows, classes: classes, into: op, workspace: workspace, isa: isa)
          }
        }
      }
      return (out.map(value), loss.map(value))
    }
  }

  /// The generic core's answer in Float80 for one row: probabilities, gradient `g(s − e_T)` and loss `LSE − x_T`.
  func coreReference(_ row: [Double], target: Int, upstream g: Double) -> (
    s: [Float80], grad: [Float80], loss: Float80
  ) {
    let z = row.map { Float80($0) }
    let s = Softmax.stable(z).probabilities
    let lse = Softmax.logSumExp(z)
    let grad = s.indices.map { Float80(g) * (s[$0] - ($0 == target ? 1 : 0)) }
    let loss = z[target] == -.infinity ? Float80.infinity : (lse.max - z[target]) + lse.logSum
    return (s, grad, loss)
  }

  /// Random logits (normal × `scale`, rounded into the precision) with about `maskedFraction` of them `−∞` (never a
  /// whole row, never the target).
  func batchInput(
    rows: Int, classes: Int, precision: BatchPrecision, seed: UInt64, scale: Double = 3,
    maskedFraction: Double = 0
  ) -> (x: [Double], targets: [Int], upstream: [Double]) {
    var rng = SeededRandom(seed: seed)
    var x = (0..<(rows * classes)).map { _ in precision.round(rng.nextNormal() * scale) }
    let targets = (0..<rows).map { _ in Int(rng.next() % UInt64(classes)) }
    let upstream = (0..<rows).map { _ in precision.round(0.5 + rng.nextUnit()) }
    if maskedFraction > 0 && classes > 1 {
      for r in 0..<rows {
        for i in 0..<classes where i != targets[r] && rng.nextUnit() < maskedFraction {
          x[r * classes + i] = -.infinity
        }
      }
    }
    return (x, targets, upstream)
  }

  /// The largest error in ulps of `precision` (ulps of the least normal below it) of `got` against `want`.
  func worstUlps(_ got: [Double], _ want: [Float80], _ precision: BatchPrecision) -> Double {
    var worst = 0.0
    for i in want.indices {
      let w = Double(want[i])
      if got[i] == w { continue }
      if got[i].isNaN || w.isNaN || got[i].isInfinite || w.isInfinite { return .infinity }
      worst = Swift.max(worst, abs(got[i] - w) / precision.ulp(w))
    }
    return worst
  }

  /// Ulp budget per kernel and precision: the 16-bit formats round a Float result once (≤ 0.5 ulp, plus a hair); the
  /// online kernel's lane-wise running sums add a little more error than the 3-pass sum.
  func ulpBudget(_ kernel: BatchSoftmax.Kernel, _ precision: BatchPrecision) -> Double {
    switch precision {
    case .float16, .bfloat16: 1
    case .float32, .float64: kernel == .online ? 8 : 4
    }
  }

  @Suite struct BatchKernelTests {
    @Test(arguments: isaPrecisions)
    func everyKernelMatchesTheCoreOnShortAndOddRows(isa: KernelISA, precision: BatchPrecision) {
      // C = 1 … 33 covers rows shorter than a SIMD width, exact multiples and every tail length; 100 and 257 more.
      for classes in Array(1...33) + [100, 257] {
        let rows = 3
        for masked in [0.0, 0.3] {
          let input = batchInput(
            rows: rows, classes: classes, precision: precision, seed: UInt64(classes * 7 + 1),
            maskedFraction: masked)
          for kernel in BatchSoftmax.Kernel.allCases {
            let got = runBatch(
              kernel, precision, input.x, rows: rows, classes: classes, targets: input.targets,
              upstream: input.upstream, isa: isa)
            for r in 0..<rows {
              let row = Array(input.x[(r * classes)..<((r + 1) * classes)])
              let ref = coreReference(row, target: input.targets[r], upstream: input.upstream[r])
              let out = Array(got.out[(r * classes)..<((r + 1) * classes)])
              let budget = ulpBudget(kernel, precision)
              if kernel == .fused {
                let e = worstUlps(out, ref.grad, precision)
                #expect(
                  e <= budget,
                  "\(isa) \(kernel) \(precision) C=\(classes) masked=\(masked) gradient: \(e) ulps")
                let le = worstUlps([got.loss[r]], [ref.loss], precision)
                #expect(le <= budget, "\(isa) \(kernel) \(precision) C=\(classes) loss: \(le) ulps")
              } else {
                let e = worstUlps(out, ref.s, precision)
                #expect(
                  e <= budget, "\(isa) \(kernel) \(precision) C=\(classes) masked=\(masked): \(e) ulps")
              }
              for i in 0..<classes where row[i] == -.infinity {
                #expect(out[i] == 0, "\(isa) \(kernel) \(precision): a masked class must get exactly 0")
              }
            }
          }
        }
      }
    }

    @Test(arguments: isaPrecisions)
    func oneClassIsCertain(isa: KernelISA, precision: BatchPrecision) {
      for kernel in BatchSoftmax.Kernel.allCases {
        let got = runBatch(
          kernel, precision, [2.5, -7, 0], rows: 3, classes: 1, upstream: [1, 1, 1], isa: isa)
        if kernel == .fused {
          #expect(got.out == [0, 0, 0])
          #expect(got.loss == [0, 0, 0])
        } else {
          #expect(got.out == [1, 1, 1])
        }
      }
    }

    @Test(arguments: testedISAs)
    func largeLogitsOverflowOnlyTheNaiveKernel(isa: KernelISA) {
      let x: [Double] = [1000, 999, 998, -1000, 3000, 2999, 0, 1]
      for precision in [BatchPrecision.float32, .float64] {
        for kernel in [BatchSoftmax.Kernel.stable, .online, .fused] {
          let got = runBatch(
            kernel, precision, x, rows: 2, classes: 4, targets: [1, 2], upstream: [1, 1], isa: isa)
          for r in 0..<2 {
            let row = Array(x[(r * 4)..<(r * 4 + 4)])
            let ref = coreReference(row, target: [1, 2][r], upstream: 1)
            let want = kernel == .fused ? ref.grad : ref.s
            let e = worstUlps(Array(got.out[(r * 4)..<(r * 4 + 4)]), want, precision)
            #expect(e <= 4, "\(isa) \(kernel) \(precision) row \(r): \(e) ulps")
          }
          if kernel == .fused {
            #expect(got.loss[0].isFinite && got.loss[1].isFinite)
            #expect(
              abs(got.loss[1] - (3000 + Double(Float80.log(1 + Float80.exp(-1)))) - 0) <= 3000
                * 1e-6)
          }
        }
      }
      // float32 naive: e^1000 = inf, so inf/inf = NaN at the overflowing entries (and the whole first row overflows).
      let naive32 = runBatch(.naive, .float32, [1000, 0, 1, 2], rows: 1, classes: 4, isa: isa)
      #expect(naive32.out[0].isNaN)
      #expect(naive32.out[1...] == [0, 0, 0])
      // float64 survives 700 but not 710.
      let naive64 = runBatch(.naive, .float64, [700, 699, 710, 0], rows: 2, classes: 2, isa: isa)
      #expect(naive64.out[0].isFinite && naive64.out[1].isFinite)
      #expect(naive64.out[2].isNaN && naive64.out[3] == 0)
    }

    @Test(arguments: testedISAs)
    func naiveUnderflowThresholdsFollowTheFormat(isa: KernelISA) {
      // e^{−100} ≈ 3.7e−44 is a float32 subnormal: naive still gives 1/2 each. e^{−110} rounds to 0: 0/0 = NaN.
      let ok = runBatch(.naive, .float32, [-100, -100], rows: 1, classes: 2, isa: isa)
      #expect(ok.out == [0.5, 0.5])
      let under = runBatch(.naive, .float32, [-110, -110], rows: 1, classes: 2, isa: isa)
      #expect(under.out.allSatisfy { $0.isNaN })
      for kernel in [BatchSoftmax.Kernel.stable, .online] {
        #expect(runBatch(kernel, .float32, [-110, -110], rows: 1, classes: 2, isa: isa).out == [0.5, 0.5])
      }
    }

    @Test(arguments: testedISAs)
    func subnormalProbabilitiesAreRoundedNotFlushed(isa: KernelISA) {
      // s_1 = e^{−95}/(1 + e^{−95}) ≈ 5.5e−42, a float32 subnormal; the stable kernels take the full-range exp here.
      let want = Double(Float(Double.exp(-95)))
      for kernel in [BatchSoftmax.Kernel.stable, .online] {
        let got = runBatch(kernel, .float32, [0, -95], rows: 1, classes: 2, isa: isa)
        #expect(got.out[0] == 1)
        #expect(abs(got.out[1] - want) <= 0x1p-149, "\(kernel): \(got.out[1]) vs \(want)")
      }
    }

    @Test(arguments: testedISAs)
    func maskedTargetGivesInfiniteLoss(isa: KernelISA) {
      let got = runBatch(
        .fused, .float32, [0, -.infinity, 1], rows: 1, classes: 3, targets: [1], upstream: [1], isa: isa)
      #expect(got.loss[0] == .infinity)
      #expect(got.out[1] == -1)
    }

    @Test(arguments: isaWidePrecisions)
    func fusedIsWithinFourUlpsOnBenchLikeRows(isa: KernelISA, precision: BatchPrecision) {
      let (rows, classes) = (8, 4096)
      let input = batchInput(rows: rows, classes: classes, precision: precision, seed: 99)
      let got = runBatch(
        .fused, precision, input.x, rows: rows, classes: classes, targets: input.targets,
        upstream: input.upstream, isa: isa)
      for r in 0..<rows {
        let row = Array(input.x[(r * classes)..<((r + 1) * classes)])
        let ref = coreReference(row, target: input.targets[r], upstream: input.upstream[r])
        let e = worstUlps(Array(got.out[(r * classes)..<((r + 1) * classes)]), ref.grad, precision)
        #expect(e <= 4, "gradient row \(r): \(e) ulps")
        let le = worstUlps([got.loss[r]], [ref.loss], precision)
        #expect(le <= 4, "loss row \(r): \(le) ulps")
      }
    }

    @Test(arguments: isaWidePrecisions)
    func fusedIsWithinFourUlpsOnShiftedAndLargeRows(isa: KernelISA, precision: BatchPrecision) {
      // Offsets around the float32 shifted path's limit (|M| ≤ 512) and its range limit (min − M ≥ −86), and a
      // dominant target with a tiny loss (the `rest < e_T` branch), each over a row with a tail.
      let classes = 37
      for (offset, spread, dominant) in [
        (0.0, 3.0, false), (480.0, 3.0, false), (-500.0, 3.0, false), (700.0, 3.0, false),
        (-2000.0, 3.0, false), (0.0, 25.0, false), (10.0, 3.0, true), (-600.0, 1.0, true),
      ] {
        var input = batchInput(rows: 2, classes: classes, precision: precision, seed: 5)
        for i in input.x.indices { input.x[i] = precision.round(offset + input.x[i] / 3 * spread) }
        if dominant {
          for r in 0..<2 { input.x[r * classes + input.targets[r]] = precision.round(offset + 30) }
        }
        let got = runBatch(
          .fused, precision, input.x, rows: 2, classes: classes, targets: input.targets,
          upstream: input.upstream, isa: isa)
        for r in 0..<2 {
          let row = Array(input.x[(r * classes)..<((r + 1) * classes)])
          var ref = coreReference(row, target: input.targets[r], upstream: input.upstream[r])
          if dominant {
            // s_T − 1 ≈ −1e−12 cancels in the Float80 reference (64 bits are not enough for a float64 answer);
            // form it as −g·Σ_{i≠T} s_i instead.
            let t = input.targets[r]
            let rest = ref.s.indices.filter { $0 != t }.reduce(Float80(0)) { $0 + ref.s[$1] }
            ref.grad[t] = -Float80(input.upstream[r]) * rest
          }
          let out = Array(got.out[(r * classes)..<((r + 1) * classes)])
          let e = worstUlps(out, ref.grad, precision)
          #expect(e <= 4, "\(isa) offset \(offset) spread \(spread) dominant \(dominant): gradient \(e) ulps")
          let le = worstUlps([got.loss[r]], [ref.loss], precision)
          #expect(le <= 4, "\(isa) offset \(offset) spread \(spread) dominant \(dominant): loss \(le) ulps")
        }
      }
    }

    @Test func bitLevelFloat16ConversionsMatchTheStandardLibrary() {
      // `widen`/`narrow` may use the standard library's conversions (F16C); the bit-level ones must agree with it.
      for bits in UInt16.min...UInt16.max {
        let want = Float(Float16(bitPattern: bits))
        let got = HalfConversion.float(float16: bits)
        #expect(got.bitPattern == want.bitPattern || (got.isNaN && want.isNaN))
        if !want.isNaN { #expect(HalfConversion.float16Bits(want) == bits) }
      }
    }

    @Test(arguments: testedISAs)
    func float32LossOver131072ClassesIsAccurate(isa: KernelISA) {
      let classes = 131_072
      let input = batchInput(rows: 1, classes: classes, precision: .float32, seed: 7)
      let got = runBatch(
        .fused, .float32, input.x, rows: 1, classes: classes, targets: input.targets, upstream: [1], isa: isa)
      let ref = coreReference(input.x, target: input.targets[0], upstream: 1)
      let rel = abs(got.loss[0] - Double(ref.loss)) / Double(ref.loss)
      #expect(rel <= 1e-6, "relative loss error \(rel)")
      let e = worstUlps(got.out, ref.grad, .float32)
      #expect(e <= 4, "gradient: \(e) ulps")
    }

    @Test(arguments: testedISAs)
    func bfloat16ConversionsRoundToNearestEven(isa: KernelISA) {
      // Every bfloat16 widens exactly and narrows back to itself (NaNs stay NaN).
      var bits = [UInt16](0...UInt16.max)
      var floats = [Float](repeating: 0, count: bits.count)
      HalfConversion.widen(.bfloat16, &bits, to: &floats, count: bits.count, isa: isa)
      var back = [UInt16](repeating: 0, count: bits.count)
      HalfConversion.narrow(.bfloat16, &floats, to: &back, count: bits.count, isa: isa)
      for i in bits.indices {
        #expect(floats[i].bitPattern == UInt32(bits[i]) << 16)
        if floats[i].isNaN {
          #expect(back[i] & 0x7F80 == 0x7F80 && back[i] & 0x7F != 0)
        } else {
          #expect(back[i] == bits[i])
        }
      }
      // Ties go to even; past the largest finite value rounds to infinity.
      #expect(HalfConversion.bfloat16Bits(Float(bitPattern: 0x3F80_8000)) == 0x3F80)
      #expect(HalfConversion.bfloat16Bits(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
      #expect(HalfConversion.bfloat16Bits(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
      #expect(HalfConversion.bfloat16Bits(.greatestFiniteMagnitude) == 0x7F80)
    }

    @Test(arguments: testedISAs)
    func float16ConversionsMatchTheStandardLibrary(isa: KernelISA) {
      var bits = [UInt16](0...UInt16.max)
      var floats = [Float](repeating: 0, count: bits.count)
      HalfConversion.widen(.float16, &bits, to: &floats, count: bits.count, isa: isa)
      for i in bits.indices {
        let want = Float(Float16(bitPattern: bits[i]))
        #expect(floats[i].bitPattern == want.bitPattern || (floats[i].isNaN && want.isNaN))
      }
      var rng = SeededRandom(seed: 3)
      var samples: [Float] = [
        0, -0, 65504, 65520, 65519.996, 1e-8, 2.98e-8, 5.96e-8, -6.1e-5, .infinity, -.infinity,
      ]
      for _ in 0..<20000 {
        samples.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0xC7FF_FFFF))
      }
      var out = [UInt16](repeating: 0, count: samples.count)
      HalfConversion.narrow(.float16, &samples, to: &out, count: samples.count, isa: isa)
      for i in samples.indices where !samples[i].isNaN {
        #expect(out[i] == Float16(samples[i]).bitPattern, "\(isa) \(samples[i])")
      }
    }

    // MARK: Instruction sets

    @Test(
      .disabled(
        if: !KernelISA.v3.isSupported,
        "this CPU, OS or build cannot run x86-64-v3 (AVX2+FMA+F16C): the v3 kernel checks are skipped, baseline only"
      ))
    func v3KernelsAreTestedOnThisCPU() {
      #expect(testedISAs == [.baseline, .v3])
      // The two tables really reach the two compiled copies of the kernel module.
      #expect(!KernelISA.baseline.usesFusedMultiplyAdd)
      #expect(KernelISA.v3.usesFusedMultiplyAdd)
    }

    @Test func detectedISAAgreesWithProcCpuinfo() throws {
      #if os(Linux)
        let text = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(line.split(separator: ":", maxSplits: 1).last!.split(separator: " ").map(String.init))
        // The x86-64-v3 feature set under its /proc/cpuinfo names (abm = LZCNT, pni = SSE3). Linux lists avx/avx2
        // only when the kernel enables the YMM state, which the detection checks with xgetbv.
        let v3 = [
          "avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "abm", "movbe", "popcnt", "sse4_1", "sse4_2", "ssse3", "pni",
          "cx16", "lahf_lm",
        ]
        let missing = v3.filter { !flags.contains($0) }
        let expected: KernelISA = missing.isEmpty && KernelISA.v3IsCompiledIn ? .v3 : .baseline
        #expect(KernelISA.detected == expected, "cpuinfo lacks \(missing)")
      #endif
    }

    @Test func isaNamesParse() {
      #expect(KernelISA(name: "baseline") == .baseline)
      #expect(KernelISA(name: "V3") == .v3)
      #expect(KernelISA(name: "x86-64-v3") == .v3)
      #expect(KernelISA(name: "avx512") == nil)
      #expect(KernelISA.baseline.isSupported)
    }

    @Test(arguments: [BatchPrecision.float32, .float64])
    func bothISAsAgreeToAnUlpOrTwo(precision: BatchPrecision) {
      guard testedISAs.count == 2 else { return }
      let (rows, classes) = (4, 1000)
      let input = batchInput(rows: rows, classes: classes, precision: precision, seed: 11, maskedFraction: 0.1)
      for kernel in BatchSoftmax.Kernel.allCases {
        let a = runBatch(
          kernel, precision, input.x, rows: rows, classes: classes, targets: input.targets,
          upstream: input.upstream, isa: .baseline)
        let b = runBatch(
          kernel, precision, input.x, rows: rows, classes: classes, targets: input.targets,
          upstream: input.upstream, isa: .v3)
        let e = worstUlps(b.out, a.out.map { Float80($0) }, precision)
        #expect(e <= 4, "\(kernel) \(precision): v3 vs baseline \(e) ulps")
      }
    }
  }

#endif
