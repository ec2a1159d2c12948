import SoftmaxCore
import Testing

@testable import SoftmaxBench

// The fused kernel on float16 and bfloat16 rows converts inside its passes (the logits are widened as they are
// loaded, the gradient rounded as it is stored). These tests pin it, for both kernel copies, to the plain route —
// widen the whole batch, run the float32 fused kernel, round the results — bit for bit (bfloat16: to the neighbouring
// value at most, see `sameHalf`), over rows that take every path of the kernel, and check the bfloat16 rounding it
// relies on. No timing assertions.

#if arch(x86_64) && !os(Windows) && !os(Android)

  /// Every tested ISA with both 16-bit formats.
  let isaHalfFormats = testedISAs.flatMap { isa in [HalfFormat.float16, .bfloat16].map { (isa, $0) } }

  extension HalfFormat {
    func bits(_ x: Float) -> UInt16 {
      self == .float16 ? HalfConversion.float16Bits(x) : HalfConversion.bfloat16Bits(x)
    }

    func value(_ b: UInt16) -> Float {
      self == .float16 ? HalfConversion.float(float16: b) : HalfConversion.float(bfloat16: b)
    }
  }

  /// The fused kernel on 16-bit rows, as called by users (loss, gradient).
  func fusedHalf(
    _ format: HalfFormat, _ x: [UInt16], rows: Int, classes: Int, targets: [Int], upstream: [UInt16],
    isa: KernelISA
  ) -> (loss: [UInt16], grad: [UInt16]) {
    var grad = [UInt16](repeating: 0x5555, count: x.count)
    var loss = [UInt16](repeating: 0x5555, count: rows)
    let workspace = BatchWorkspace(capacity: 16)
    x.withUnsafeBufferPointer { xp in
      targets.withUnsafeBufferPointer { tp in
        upstream.withUnsafeBufferPointer { gp in
          loss.withUnsafeMutableBufferPointer { lp in
            grad.withUnsafeMutableBufferPointer { op in
              BatchSoftmax.fused(
                format, xp, rows: rows, classes: classes, targets: tp, upstream: gp, loss: lp, gradient: op,
                workspace: workspace, isa: isa)
            }
          }
        }
      }
    }
    return (loss, grad)
  }

  /// The same through separate passes: widen everything, the float32 fused kernel, round everything.
  func fusedHalfByConversion(
    _ format: HalfFormat, _ x: [UInt16], rows: Int, classes: Int, targets: [Int], upstream: [UInt16],
    isa: KernelISA
  ) -> (loss: [UInt16], grad: [UInt16]) {
    var wide = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { xp in
      wide.withUnsafeMutableBufferPointer { wp in
        HalfConversion.widen(format, xp.baseAddress!, to: wp.baseAddress!, count: x.count, isa: isa)
      }
    }
    let g = upstream.map(format.value)
    var gradF = [Float](repeating: 0, count: x.count)
    var lossF = [Float](repeating: 0, count: rows)
    wide.withUnsafeBufferPointer { xp in
      targets.withUnsafeBufferPointer { tp in
        g.withUnsafeBufferPointer { gp in
          lossF.withUnsafeMutableBufferPointer { lp in
            gradF.withUnsafeMutableBufferPointer { op in
              BatchSoftmax.fused(
                xp, rows: rows, classes: classes, targets: tp, upstream: gp, loss: lp, gradient: op, isa: isa)
            }
          }
        }
      }
    }
    var grad = [UInt16](repeating: 0, count: x.count)
    gradF.withUnsafeBufferPointer { fp in
      grad.withUnsafeMutableBufferPointer { op in
        HalfConversion.narrow(format, fp.baseAddress!, to: op.baseAddress!, count: x.count, isa: isa)
      }
    }
    return (lossF.map(format.bits), grad)
  }

  /// Equal bit patterns, or both NaN (the routes may quiet a NaN differently). For bfloat16 also neighbours (one
  /// ulp, same sign): its kernel sums the `E_i` in a different lane order (``fusedHalf``'s loads deinterleave), so σ
  /// may differ from the float32 kernel's in its last bits.
  func sameHalf(_ a: UInt16, _ b: UInt16, _ format: HalfFormat) -> Bool {
    if a == b || (format.value(a).isNaN && format.value(b).isNaN) { return true }
    return format == .bfloat16 && (a ^ b) & 0x8000 == 0 && (a > b ? a - b : b - a) == 1
      && format.value(a).isFinite && format.value(b).isFinite
  }

  @Suite struct HalfFusedKernelTests {
    @Test(arguments: isaHalfFormats)
    func fusedHalfMatchesWidenFusedNarrow(isa: KernelISA, format: HalfFormat) {
      let big: Float = format == .float16 ? 60000 : 1e38
      // Rows of every kind, each run at every width below: random (the shifted fast path), masked entries (−∞, the
      // general path), a NaN, +inf, all −∞, a large offset (|M| > 512) and a wide range (min − M < −86) (general
      // path), and a dominant target (the `rest < E_T` branch); upstream gradients 1, 0, negative, tiny
      // (subnormal float16 gradients), large, infinite and NaN.
      let widths = [1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 47, 64, 100, 257]
      let kinds = ["random", "masked", "nan", "inf", "allMasked", "offset", "wide", "dominant"]
      let upstreams: [Float] = [1, 0, -1.5, 0x1p-10, big, .infinity, .nan, 0.75]
      var rng = SeededRandom(seed: 17)
      for classes in widths {
        var x: [UInt16] = []
        var targets: [Int] = []
        var upstream: [UInt16] = []
        for kind in kinds {
          for u in upstreams {
            let t = Int(rng.next() % UInt64(classes))
            var row = (0..<classes).map { _ in Float(rng.nextNormal() * 3) }
            switch kind {
            case "masked": for i in row.indices where i != t && rng.nextUnit() < 0.3 { row[i] = -.infinity }
            case "nan": row[Int(rng.next() % UInt64(classes))] = .nan
            case "inf": row[Int(rng.next() % UInt64(classes))] = .infinity
            case "allMasked": row = row.map { _ in -.infinity }
            case "offset": row = row.map { $0 + 600 }
            case "wide": row = row.map { $0 * 15 }
            case "dominant": row[t] = 40
            default: break
            }
            x += row.map(format.bits)
            targets.append(t)
            upstream.append(format.bits(u))
          }
        }
        let rows = targets.count
        let got = fusedHalf(format, x, rows: rows, classes: classes, targets: targets, upstream: upstream, isa: isa)
        let want = fusedHalfByConversion(
          format, x, rows: rows, classes: classes, targets: targets, upstream: upstream, isa: isa)
        for r in 0..<rows {
          let kind = kinds[r / upstreams.count]
          let u = upstreams[r % upstreams.count]
          #expect(
            sameHalf(got.loss[r], want.loss[r], format),
            "\(isa) \(format) C=\(classes) \(kind) g=\(u): loss \(got.loss[r]) vs \(want.loss[r])")
          let mismatches = (r * classes..<(r + 1) * classes).filter { !sameHalf(got.grad[$0], want.grad[$0], format) }
          #expect(
            mismatches.isEmpty,
            "\(isa) \(format) C=\(classes) \(kind) g=\(u): gradient differs at \(mismatches.map { $0 - r * classes })")
        }
      }
    }

    @Test(arguments: isaHalfFormats)
    func fusedHalfRoundsTheTargetTieToEven(isa: KernelISA, format: HalfFormat) {
      // Zero logits over C = 2^k classes: E_i = 1 and s_i = 2^−k exactly, and the target's g·(s_T − 1) = −(1 − 2^−k) is exactly
      // halfway between the two nearest values of the format (k = 9 for bfloat16's 8 significant bits, 12 for
      // float16's 11); to even is −1.
      let classes = format == .float16 ? 4096 : 512
      let x = [UInt16](repeating: format.bits(0), count: classes)
      for target in [0, 5, classes - 1] {
        let got = fusedHalf(
          format, x, rows: 1, classes: classes, targets: [target], upstream: [format.bits(1)], isa: isa)
        #expect(format.value(got.grad[target]) == -1, "\(isa) \(format) target \(target)")
        for i in 0..<classes where i != target {
          #expect(format.value(got.grad[i]) == 1 / Float(classes))
        }
      }
    }

    @Test(arguments: isaHalfFormats)
    func fusedHalfOnOneClassAndMaskedEntries(isa: KernelISA, format: HalfFormat) {
      // C = 1: the gradient is exactly 0 and the loss 0, for a shifted row and for a general-path one.
      let one = fusedHalf(
        format, [format.bits(3), format.bits(700), format.bits(-.infinity)], rows: 3, classes: 1,
        targets: [0, 0, 0], upstream: [format.bits(2), format.bits(1), format.bits(1)], isa: isa)
      #expect(one.grad.prefix(2).map(format.value) == [0, 0])
      #expect(one.loss.prefix(2).map(format.value) == [0, 0])
      #expect(format.value(one.loss[2]).isNaN)
      // Masked classes get exactly 0, a masked target an infinite loss and −g.
      let masked = fusedHalf(
        format, [0, 1, -.infinity, 2, -.infinity].map(format.bits), rows: 1, classes: 5, targets: [2],
        upstream: [format.bits(1)], isa: isa)
      #expect(format.value(masked.loss[0]) == .infinity)
      #expect(format.value(masked.grad[2]) == -1)
      #expect(format.value(masked.grad[4]) == 0)
    }

    @Test(arguments: testedISAs)
    func bfloat16NarrowingRoundsTiesToEvenAndKeepsNaN(isa: KernelISA) {
      // Every bfloat16 with the discarded low half below, at and above the halfway point (and NaN payloads that would
      // carry): the bulk narrowing (vector lanes and a 13-value tail) and the scalar one against a reference model.
      let lows: [UInt32] = [0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF]
      var floats: [Float] = []
      for hi in UInt32(0)...0xFFFF { for lo in lows { floats.append(Float(bitPattern: hi << 16 | lo)) } }
      floats += (0..<13).map { Float(bitPattern: 0x3F80_8000 + UInt32($0) << 16) }
      func reference(_ x: Float) -> UInt16 {
        let hi = UInt16(x.bitPattern >> 16)
        let lo = x.bitPattern & 0xFFFF
        if x.isNaN { return hi | 0x0040 }
        return lo > 0x8000 || (lo == 0x8000 && hi & 1 == 1) ? hi &+ 1 : hi
      }
      var out = [UInt16](repeating: 0, count: floats.count)
      HalfConversion.narrow(.bfloat16, &floats, to: &out, count: floats.count, isa: isa)
      var wrong = 0
      for i in floats.indices {
        let want = reference(floats[i])
        if out[i] != want || HalfConversion.bfloat16Bits(floats[i]) != want { wrong += 1 }
        if wrong > 0 && wrong <= 5 && out[i] != want {
          Issue.record("\(isa) \(String(floats[i].bitPattern, radix: 16)): \(out[i]) vs \(want)")
        }
      }
      #expect(wrong == 0)
      // Rounding up past the largest finite bfloat16 gives infinity.
      #expect(reference(.greatestFiniteMagnitude) == 0x7F80)
    }
  }

#endif
