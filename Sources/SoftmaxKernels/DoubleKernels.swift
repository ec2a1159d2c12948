import RealModule

// The Double kernels: the same code as FloatKernels.swift for SIMD8<Double>; keep the two in sync. (The Float kernels'
// shifted fast path, `rowExpSumShifted`, has no Double counterpart yet: every Double row takes the two-sum path.)

private typealias Vec = SIMD8<Double>
private typealias Scalar = Double
private let lanes = 8
/// Vectors summed in block accumulators before the block is added to the running total (16 vectors = 128 elements).
private let block = 16

// MARK: - Vector helpers

@inline(__always) private func load(_ p: UnsafePointer<Scalar>) -> Vec {
  UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

@inline(__always) private func store(_ v: Vec, _ p: UnsafeMutablePointer<Scalar>) {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

/// The first `count` (< lanes) values from `p`, the other lanes `fill`.
@inline(__always) private func loadPartial(_ p: UnsafePointer<Scalar>, _ count: Int, fill: Scalar)
  -> Vec
{
  var v = Vec(repeating: fill)
  for l in 0..<count { v[l] = p[l] }
  return v
}

@inline(__always) private func storePartial(
  _ v: Vec, _ p: UnsafeMutablePointer<Scalar>, _ count: Int
) {
  for l in 0..<count { p[l] = v[l] }
}

/// Lane-wise maximum as compare + select, which lowers to one `max` instruction (unlike `pointwiseMax`).
@inline(__always) private func vmax(_ a: Vec, _ b: Vec) -> Vec {
  a.replacing(with: b, where: b .> a)
}

/// Lane-wise minimum as compare + select (one `min` instruction).
@inline(__always) private func vmin(_ a: Vec, _ b: Vec) -> Vec {
  a.replacing(with: b, where: b .< a)
}

@inline(__always) private func horizontalMin(_ v: Vec) -> Scalar {
  var m = v[0]
  for l in 1..<lanes where v[l] < m { m = v[l] }
  return m
}

@inline(__always) private func horizontalMax(_ v: Vec) -> Scalar {
  var m = v[0]
  for l in 1..<lanes where v[l] > m { m = v[l] }
  return m
}

/// A block sum added to the running total.
@inline(__always) private func widenAdd(_ total: inout Vec, _ v: Vec) {
  total += v
}

/// `e^{x − m}` for the exact difference `x − m`: two-sum recovers the rounding error of the subtraction, and the
/// exponential takes it as a correction of the reduced argument. `normal` says that every `x − m` of the row is in
/// `[normalFloor, 0]`, so the cheaper ``VectorExp/expNormalRange(_:correction:)-(SIMD8<Double>,_)`` applies.
@_transparent private func expShifted(_ x: Vec, _ negM: Vec, normal: Bool = false) -> Vec {
  let d = x + negM
  let bb = d - x
  let err = (x - (d - bb)) + (negM - bb)
  return normal ? VectorExp.expNormalRange(d, correction: err) : VectorExp.exp(d, correction: err)
}

/// Rows whose smallest `x − M` is at least this take the fast exponential (no `−∞`, no subnormal result).
private let normalFloor: Scalar = -700

// MARK: - Row passes

/// The largest and smallest entry of a row (the minimum only chooses the exponential's fast path).
private func rowRange(_ x: UnsafePointer<Scalar>, _ c: Int) -> (max: Scalar, min: Scalar) {
  var m0 = Vec(repeating: -.infinity)
  var m1 = m0
  var n0 = Vec(repeating: .infinity)
  var n1 = n0
  var i = 0
  while i + 2 * lanes <= c {
    let v0 = load(x + i)
    let v1 = load(x + i + lanes)
    m0 = vmax(m0, v0)
    m1 = vmax(m1, v1)
    n0 = vmin(n0, v0)
    n1 = vmin(n1, v1)
    i += 2 * lanes
  }
  if i + lanes <= c {
    let v = load(x + i)
    m0 = vmax(m0, v)
    n0 = vmin(n0, v)
    i += lanes
  }
  var m = horizontalMax(vmax(m0, m1))
  var n = horizontalMin(vmin(n0, n1))
  while i < c {
    if x[i] > m { m = x[i] }
    if x[i] < n { n = x[i] }
    i += 1
  }
  return (m, n)
}

/// Stores `e^{x_i − m}` into `out` and returns `Σ e^{x_i − m}` (per-lane block sums).
private func rowExpSum(
  _ x: UnsafePointer<Scalar>, _ c: Int, _ range: (max: Scalar, min: Scalar),
  _ out: UnsafeMutablePointer<Scalar>
) -> Double {
  if range.min - range.max >= normalFloor {
    return rowExpSum(x, c, range.max, out, normal: true)
  } else {
    return rowExpSum(x, c, range.max, out, normal: false)
  }
}

@inline(__always) private func rowExpSum(
  _ x: UnsafePointer<Scalar>, _ c: Int, _ m: Scalar, _ out: UnsafeMutablePointer<Scalar>,
  normal: Bool
) -> Double {
  let negM = Vec(repeating: -m)
  var total = SIMD8<Double>()
  var i = 0
  let full = c - c % lanes
  while i < full {
    let end = Swift.min(i + block * lanes, full)
    var acc0 = Vec()
    var acc1 = Vec()
    while i + 2 * lanes <= end {
      let e0 = expShifted(load(x + i), negM, normal: normal)
      let e1 = expShifted(load(x + i + lanes), negM, normal: normal)
      store(e0, out + i)
      store(e1, out + i + lanes)
      acc0 += e0
      acc1 += e1
      i += 2 * lanes
    }
    if i < end {
      let e0 = expShifted(load(x + i), negM, normal: normal)
      store(e0, out + i)
      acc0 += e0
      i += lanes
    }
    widenAdd(&total, acc0 + acc1)
  }
  if i < c {
    let e = expShifted(loadPartial(x + i, c - i, fill: -.infinity), negM)
    storePartial(e, out + i, c - i)
    widenAdd(&total, e)
  }
  return total.sum()
}

/// `out[i] *= s`.
private func rowScale(_ out: UnsafeMutablePointer<Scalar>, _ c: Int, _ s: Scalar) {
  let sv = Vec(repeating: s)
  var i = 0
  while i + lanes <= c {
    store(load(out + i) * sv, out + i)
    i += lanes
  }
  while i < c {
    out[i] *= s
    i += 1
  }
}

private func rowNaive(_ x: UnsafePointer<Scalar>, _ c: Int, _ out: UnsafeMutablePointer<Scalar>) {
  var total = SIMD8<Double>()
  var i = 0
  let full = c - c % lanes
  while i < full {
    let end = Swift.min(i + block * lanes, full)
    var acc = Vec()
    while i < end {
      let e = VectorExp.exp(load(x + i))
      store(e, out + i)
      acc += e
      i += lanes
    }
    widenAdd(&total, acc)
  }
  if i < c {
    let e = VectorExp.exp(loadPartial(x + i, c - i, fill: -.infinity))
    storePartial(e, out + i, c - i)
    widenAdd(&total, e)
  }
  // σ rounded to the working precision (+inf if it overflows, 0 if everything underflowed), then a true division,
  // as the formula reads: inf/inf = NaN, finite/inf = 0, 0/0 = NaN.
  let sigma = Vec(repeating: Scalar(total.sum()))
  i = 0
  while i + lanes <= c {
    store(load(out + i) / sigma, out + i)
    i += lanes
  }
  while i < c {
    out[i] /= sigma[0]
    i += 1
  }
}

private func rowStable(_ x: UnsafePointer<Scalar>, _ c: Int, _ out: UnsafeMutablePointer<Scalar>) {
  let sigma = rowExpSum(x, c, rowRange(x, c), out)
  rowScale(out, c, Scalar(1 / sigma))
}

/// One step of the lane-wise online recurrence: `m' = max(m, v)`, `d' = d·e^{m − m'} + e^{v − m'}`.
@inline(__always) private func onlineStep(_ m: inout Vec, _ d: inout Vec, _ lo: inout Vec, _ v: Vec) {
  let mNew = vmax(m, v)
  lo = vmin(lo, v)
  // While a lane has seen only −∞ its max is −∞; shift by 0 then, so both exponentials are e^{−∞} = 0, not NaN.
  let shift = mNew.replacing(with: 0, where: mNew .== -.infinity)
  let negShift = -shift
  d = d * VectorExp.exp(m + negShift) + expShifted(v, negShift)
  m = mNew
}

private func rowOnline(_ x: UnsafePointer<Scalar>, _ c: Int, _ out: UnsafeMutablePointer<Scalar>) {
  var m0 = Vec(repeating: -.infinity)
  var m1 = m0
  var d0 = Vec()
  var d1 = Vec()
  var lo = Vec(repeating: .infinity)
  var i = 0
  while i + 2 * lanes <= c {
    onlineStep(&m0, &d0, &lo, load(x + i))
    onlineStep(&m1, &d1, &lo, load(x + i + lanes))
    i += 2 * lanes
  }
  if i + lanes <= c {
    onlineStep(&m0, &d0, &lo, load(x + i))
    i += lanes
  }
  var rowMin = horizontalMin(lo)
  if i < c {
    // The −∞ padding of the last partial vector must not count as the row's minimum.
    var padded = lo
    onlineStep(&m0, &d0, &padded, loadPartial(x + i, c - i, fill: -.infinity))
    for j in i..<c where x[j] < rowMin { rowMin = x[j] }
  }
  // Merge the 16 running (max, sum) pairs: M = max of the lane maxima, σ = Σ d_l·e^{m_l − M} (in Double).
  let m = horizontalMax(vmax(m0, m1))
  let negM = Vec(repeating: -m)
  var total = SIMD8<Double>()
  widenAdd(&total, d0 * VectorExp.exp(m0 + negM))
  widenAdd(&total, d1 * VectorExp.exp(m1 + negM))
  let inv = Vec(repeating: Scalar(1 / total.sum()))
  // Second pass: the exponentials again, scaled (the fast exponential when the row's range allows it).
  i = 0
  if rowMin - m >= normalFloor {
    while i + lanes <= c {
      store(expShifted(load(x + i), negM, normal: true) * inv, out + i)
      i += lanes
    }
  } else {
    while i + lanes <= c {
      store(expShifted(load(x + i), negM) * inv, out + i)
      i += lanes
    }
  }
  if i < c {
    storePartial(
      expShifted(loadPartial(x + i, c - i, fill: -.infinity), negM) * inv, out + i, c - i)
  }
}

/// Loss `(M − x_T) + log σ` and gradient `g·(s − e_T)` for one row; returns the loss in `Double`.
private func rowFused(
  _ x: UnsafePointer<Scalar>, _ c: Int, _ target: Int, _ g: Scalar,
  _ grad: UnsafeMutablePointer<Scalar>
) -> Double {
  precondition(target >= 0 && target < c, "BatchSoftmax.fused: target out of range")
  let range = rowRange(x, c)
  let m = range.max
  var sigma = rowExpSum(x, c, range, grad)
  let eT = Double(grad[target])
  let gd = Double(g)
  var rest = sigma - eT
  var loss = (Double(m) - Double(x[target])) + Double.log(sigma)
  if rest < eT {
    // A dominant target (s_T > 1/2, so x_T = M and e_T = 1): σ − e_T would cancel. Sum the other terms on their
    // own, so that s_T − 1 = −rest/σ and the loss log(1 + rest) keep their relative accuracy however small.
    rest = rowSumExcept(grad, c, target)
    sigma = eT + rest
    loss = Double.log(onePlus: rest)
  }
  rowScale(grad, c, Scalar(gd / sigma))
  grad[target] = Scalar(-gd * (rest / sigma))
  return loss
}

/// `Σ_{i≠t} out[i]`, summed like ``rowExpSum``.
private func rowSumExcept(_ out: UnsafeMutablePointer<Scalar>, _ c: Int, _ t: Int) -> Double {
  let saved = out[t]
  out[t] = 0
  var total = SIMD8<Double>()
  var i = 0
  let full = c - c % lanes
  while i < full {
    let end = Swift.min(i + block * lanes, full)
    var acc = Vec()
    while i < end {
      acc += load(out + i)
      i += lanes
    }
    widenAdd(&total, acc)
  }
  var tail = 0.0
  while i < c {
    tail += Double(out[i])
    i += 1
  }
  out[t] = saved
  return total.sum() + tail
}

// MARK: - Entry points

extension BatchKernels {
  /// Naive softmax of each row (see the `Float` overload).
  public static func naive(
    _ x: UnsafePointer<Double>, rows: Int, classes: Int, into out: UnsafeMutablePointer<Double>
  ) {
    for r in 0..<rows { rowNaive(x + r * classes, classes, out + r * classes) }
  }

  /// Stable 3-pass softmax of each row (see the `Float` overload).
  public static func stable(
    _ x: UnsafePointer<Double>, rows: Int, classes: Int, into out: UnsafeMutablePointer<Double>
  ) {
    for r in 0..<rows { rowStable(x + r * classes, classes, out + r * classes) }
  }

  /// Online 2-pass softmax of each row (see the `Float` overload).
  public static func online(
    _ x: UnsafePointer<Double>, rows: Int, classes: Int, into out: UnsafeMutablePointer<Double>
  ) {
    for r in 0..<rows { rowOnline(x + r * classes, classes, out + r * classes) }
  }

  /// Softmax + cross-entropy loss and gradient of each row (see the `Float` overload).
  public static func fused(
    _ x: UnsafePointer<Double>, rows: Int, classes: Int, targets: UnsafePointer<Int>,
    upstream: UnsafePointer<Double>, loss: UnsafeMutablePointer<Double>,
    gradient: UnsafeMutablePointer<Double>
  ) {
    for r in 0..<rows {
      loss[r] = rowFused(x + r * classes, classes, targets[r], upstream[r], gradient + r * classes)
    }
  }
}
