import RealModule

extension BatchSoftmax {
  /// The plain scalar baseline: stable softmax + cross-entropy gradient with one `expf` call per element, in three
  /// passes storing `e^{x−M}`, and a sequential `Float` sum — the loop a first implementation would write.
  ///
  /// It is here as the reference point of the benchmark (what the SIMD kernels are compared with), not as a kernel to
  /// use: its sequential single-precision sum loses accuracy over long rows, and `s_T − 1` cancels when `s_T ≈ 1`.
  public static func scalarFused(
    _ logits: UnsafeBufferPointer<Float>, rows: Int, classes: Int,
    targets: UnsafeBufferPointer<Int>, upstream: UnsafeBufferPointer<Float>,
    loss: UnsafeMutableBufferPointer<Float>, gradient: UnsafeMutableBufferPointer<Float>
  ) {
    checkShape(logits.count, rows, classes, "BatchSoftmax.scalarFused: logits too short")
    checkShape(gradient.count, rows, classes, "BatchSoftmax.scalarFused: gradient too short")
    precondition(
      targets.count >= rows && upstream.count >= rows && loss.count >= rows,
      "BatchSoftmax.scalarFused: per-row arrays too short")
    for r in 0..<rows {
      let base = r * classes
      var m = -Float.infinity
      for i in 0..<classes where logits[base + i] > m { m = logits[base + i] }
      var sum: Float = 0
      for i in 0..<classes {
        let e = Float.exp(logits[base + i] - m)
        gradient[base + i] = e
        sum += e
      }
      let g = upstream[r]
      let scale = g / sum
      for i in 0..<classes { gradient[base + i] *= scale }
      let t = targets[r]
      gradient[base + t] -= g
      loss[r] = (m - logits[base + t]) + Float.log(sum)
    }
  }

  /// ``scalarFused(_:rows:classes:targets:upstream:loss:gradient:)-(UnsafeBufferPointer<Float>,_,_,_,_,_,_)`` in
  /// `Double`, with one `exp` call per element.
  public static func scalarFused(
    _ logits: UnsafeBufferPointer<Double>, rows: Int, classes: Int,
    targets: UnsafeBufferPointer<Int>, upstream: UnsafeBufferPointer<Double>,
    loss: UnsafeMutableBufferPointer<Double>, gradient: UnsafeMutableBufferPointer<Double>
  ) {
    checkShape(logits.count, rows, classes, "BatchSoftmax.scalarFused: logits too short")
    checkShape(gradient.count, rows, classes, "BatchSoftmax.scalarFused: gradient too short")
    precondition(
      targets.count >= rows && upstream.count >= rows && loss.count >= rows,
      "BatchSoftmax.scalarFused: per-row arrays too short")
    for r in 0..<rows {
      let base = r * classes
      var m = -Double.infinity
      for i in 0..<classes where logits[base + i] > m { m = logits[base + i] }
      var sum: Double = 0
      for i in 0..<classes {
        let e = Double.exp(logits[base + i] - m)
        gradient[base + i] = e
        sum += e
      }
      let g = upstream[r]
      let scale = g / sum
      for i in 0..<classes { gradient[base + i] *= scale }
      let t = targets[r]
      gradient[base + t] -= g
      loss[r] = (m - logits[base + t]) + Double.log(sum)
    }
  }
}
