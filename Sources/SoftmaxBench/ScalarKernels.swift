import RealModule
import SoftmaxCore

extension BatchSoftmax {
  /// The plain scalar baseline: stable softmax + cross-entropy gradient with one `expf` call per element, in three
  /// passes storing `e^{x−M}`, and a sequential `Float` sum — the loop a first implementation would write.
  ///
  /// It is here as the reference point of the benchmark (what the SIMD kernels are compared with), not as a kernel to
  /// use: its sequential single-precision sum loses accuracy over long rows, and `s_T − 1` cancels when `s_T ≈ 1`.
  ///
  /// Written once for any scalar format and specialised at the call site: `Float` calls `expf`, `Double` calls `exp`.
  @inlinable
  public static func scalarFused<T: SoftmaxScalar>(
    _ logits: UnsafeBufferPointer<T>, rows: Int, classes: Int,
    targets: UnsafeBufferPointer<Int>, upstream: UnsafeBufferPointer<T>,
    loss: UnsafeMutableBufferPointer<T>, gradient: UnsafeMutableBufferPointer<T>
  ) {
    checkShape(logits.count, rows, classes, "BatchSoftmax.scalarFused: logits too short")
    checkShape(gradient.count, rows, classes, "BatchSoftmax.scalarFused: gradient too short")
    precondition(
      targets.count >= rows && upstream.count >= rows && loss.count >= rows,
      "BatchSoftmax.scalarFused: per-row arrays too short")
    for r in 0..<rows {
      let base = r * classes
      var m = -T.infinity
      for i in 0..<classes where logits[base + i] > m { m = logits[base + i] }
      var sum: T = 0
      for i in 0..<classes {
        let e = T.exp(logits[base + i] - m)
        gradient[base + i] = e
        sum += e
      }
      let g = upstream[r]
      let scale = g / sum
      for i in 0..<classes { gradient[base + i] *= scale }
      let t = targets[r]
      gradient[base + t] -= g
      loss[r] = (m - logits[base + t]) + T.log(sum)
    }
  }
}
