import RealModule

// The Float kernels. DoubleKernels.swift is the same code for SIMD8<Double>; keep the two in sync. This file is
// compiled twice (SoftmaxKernels and, through a symlink, SoftmaxKernelsV3; see Package.swift).

private typealias Vec = VectorExp.FloatVector
private typealias Bits = VectorExp.FloatBits
private typealias Scalar = Float
private let lanes = Vec.scalarCount
/// Vectors summed in `Float` lanes before the block is added to the `Double` total (each lane adds at most 16 terms
/// in single precision, whatever the vector width).
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

// The horizontal reductions halve the vector (shuffles and vector compare-selects) instead of walking the lanes one
// after another; they and `rowSum` run once per row, which matters for short rows (C = 256).

#if SOFTMAX_FLOAT8
  /// The running `Double` total of a row: one lane per `Float` lane.
  private typealias Total = SIMD8<Double>

  @inline(__always) private func horizontalMin(_ v: Vec) -> Scalar {
    let b = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .< v.lowHalf)
    let c = b.lowHalf.replacing(with: b.highHalf, where: b.highHalf .< b.lowHalf)
    return c[1] < c[0] ? c[1] : c[0]
  }

  @inline(__always) private func horizontalMax(_ v: Vec) -> Scalar {
    let b = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
    let c = b.lowHalf.replacing(with: b.highHalf, where: b.highHalf .> b.lowHalf)
    return c[1] > c[0] ? c[1] : c[0]
  }

  /// `Σ total[l]` by halving (a tree of vector adds).
  @inline(__always) private func rowSum(_ total: Total) -> Double {
    let b = total.lowHalf + total.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
  }
#else
  /// The running `Double` total of a row: one lane per `Float` lane.
  private typealias Total = SIMD16<Double>

  @inline(__always) private func horizontalMin(_ v: Vec) -> Scalar {
    let a = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .< v.lowHalf)
    let b = a.lowHalf.replacing(with: a.highHalf, where: a.highHalf .< a.lowHalf)
    let c = b.lowHalf.replacing(with: b.highHalf, where: b.highHalf .< b.lowHalf)
    return c[1] < c[0] ? c[1] : c[0]
  }

  @inline(__always) private func horizontalMax(_ v: Vec) -> Scalar {
    let a = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
    let b = a.lowHalf.replacing(with: a.highHalf, where: a.highHalf .> a.lowHalf)
    let c = b.lowHalf.replacing(with: b.highHalf, where: b.highHalf .> b.lowHalf)
    return c[1] > c[0] ? c[1] : c[0]
  }

  /// `Σ total[l]` by halving (a tree of vector adds).
  @inline(__always) private func rowSum(_ total: Total) -> Double {
    let a = total.lowHalf + total.highHalf
    let b = a.lowHalf + a.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
  }
#endif

/// The lanes of a block sum added to the running `Double` total.
@inline(__always) private func widenAdd(_ total: inout Total, _ v: Vec) {
  for l in 0..<lanes { total[l] += Double(v[l]) }
}

/// `e^{x − m}` for the exact difference `x − m`: two-sum recovers the rounding error of the subtraction, and the
/// exponential takes it as a correction of the reduced argument. `normal` says that every `x − m` of the row is in
/// `[normalFloor, 0]`, so the cheaper ``VectorExp/expNormalRange(_:correction:)-(FloatVector,_)`` applies.
@_transparent private func expShifted(_ x: Vec, _ negM: Vec, normal: Bool = false) -> Vec {
  let d = x + negM
  let bb = d - x
  let err = (x - (d - bb)) + (negM - bb)
  return normal ? VectorExp.expNormalRange(d, correction: err) : VectorExp.exp(d, correction: err)
}

/// Rows whose smallest `x − M` is at least this take the fast exponential (no `−∞`, no subnormal result).
private let normalFloor: Scalar = -86

// MARK: - Row passes

/// Where the logits of a row come from: `Float` itself, or a 16-bit format (bit patterns) widened to `Float` as it is
/// loaded, so that the half-precision fused kernel needs no separate conversion pass (HalfKernels.swift).
protocol RowSource {
  associatedtype Stored
  /// `lanes` values from `p`, as `Float`.
  static func load(_ p: UnsafePointer<Stored>) -> VectorExp.FloatVector
  /// One value as `Float`.
  static func scalar(_ v: Stored) -> Float
  /// Widens `count` values into `dst` (which may be `src` itself for `Float`).
  static func widen(_ src: UnsafePointer<Stored>, _ dst: UnsafeMutablePointer<Float>, _ count: Int)
  /// Where ``load(_:)`` puts element `i` of a row whose first `full` elements are whole vectors: `i`, unless the
  /// format's load permutes the lanes of a vector (bfloat16 deinterleaves them; the tail is loaded in order).
  static func position(_ i: Int, _ full: Int) -> Int
}

/// `Float` rows: plain loads.
private enum FloatSource: RowSource {
  @inline(__always) static func load(_ p: UnsafePointer<Float>) -> VectorExp.FloatVector {
    UnsafeRawPointer(p).loadUnaligned(as: VectorExp.FloatVector.self)
  }
  @inline(__always) static func scalar(_ v: Float) -> Float { v }
  @inline(__always) static func widen(
    _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int
  ) {
    if UnsafePointer(dst) != src { dst.update(from: src, count: count) }
  }
  @inline(__always) static func position(_ i: Int, _ full: Int) -> Int { i }
}

/// The first `count` (< lanes) values from `p` widened to `Float`, the other lanes `fill`.
@inline(__always) private func loadPartial<S: RowSource>(
  _ p: UnsafePointer<S.Stored>, _ count: Int, fill: Scalar, _: S.Type
) -> Vec {
  var v = Vec(repeating: fill)
  for l in 0..<count { v[l] = S.scalar(p[l]) }
  return v
}

/// The largest and smallest entry of a row (the minimum only chooses the exponential's fast path).
private func rowRange(_ x: UnsafePointer<Scalar>, _ c: Int) -> (max: Scalar, min: Scalar) {
  rowRange(x, c, FloatSource.self)
}

/// ``rowRange(_:_:)`` for any row source (the values are widened exactly, so the result is the same as for the
/// widened row).
private func rowRange<S: RowSource>(_ x: UnsafePointer<S.Stored>, _ c: Int, _: S.Type) -> (max: Scalar, min: Scalar) {
  var m0 = Vec(repeating: -.infinity)
  var m1 = m0
  var n0 = Vec(repeating: .infinity)
  var n1 = n0
  var i = 0
  while i + 2 * lanes <= c {
    let v0 = S.load(x + i)
    let v1 = S.load(x + i + lanes)
    m0 = vmax(m0, v0)
    m1 = vmax(m1, v1)
    n0 = vmin(n0, v0)
    n1 = vmin(n1, v1)
    i += 2 * lanes
  }
  if i + lanes <= c {
    let v = S.load(x + i)
    m0 = vmax(m0, v)
    n0 = vmin(n0, v)
    i += lanes
  }
  var m = horizontalMax(vmax(m0, m1))
  var n = horizontalMin(vmin(n0, n1))
  while i < c {
    let v = S.scalar(x[i])
    if v > m { m = v }
    if v < n { n = v }
    i += 1
  }
  return (m, n)
}

/// Stores `e^{x_i − m}` into `out` and returns `Σ e^{x_i − m}` (block sums in `Float`, total in `Double`).
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
  var total = Total()
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
  return rowSum(total)
}

/// The power-of-two shift `n_S` of a row for ``rowExpSumShifted``, or `nil` when the row needs the general path:
/// `|M| ≤ 512` (so `|x| ≤ 600` and the Cody–Waite reduction of `x` itself stays accurate to ~0.1 ulp) and
/// `min − M ≥ normalFloor` (every `e^{x − n_S·ln 2}` is a normal number; this also rules out `−∞`, NaN and `+∞`).
@inline(__always) private func rowShift(_ range: (max: Scalar, min: Scalar)) -> Int32? {
  guard range.max <= 512, range.max >= -512, range.min - range.max >= normalFloor else { return nil }
  // Rounded with the magic number (`.rounded()` is a library call in the baseline build); any nearby integer works.
  let k = range.max * VectorExp.floatLog2e + VectorExp.floatMagic
  return Int32(k - VectorExp.floatMagic)
}

/// Stores `E_i = e^{x_i − S}` with `S = n_S·ln 2` (a real number, not rounded) into `out` and returns `Σ E_i`.
///
/// Shifting by a multiple of ln 2 instead of by `M` is exact: the exponential reduces `x_i` itself and subtracts `n_S`
/// from the exponent, so there is no rounding error of `x_i − M` to recover (no two-sum) and no subtraction at all.
/// `M − S ≤ ln2/2`, so `E_i ≤ √2`; the softmax `E_i / Σ E_j` is the same.
private func rowExpSumShifted(
  _ x: UnsafePointer<Scalar>, _ c: Int, _ nS: Int32, _ out: UnsafeMutablePointer<Scalar>
) -> Double {
  rowExpSumShifted(x, c, nS, out, FloatSource.self)
}

/// ``rowExpSumShifted(_:_:_:_:)`` for any row source: the logits are widened as they are loaded, `out` is `Float`.
private func rowExpSumShifted<S: RowSource>(
  _ x: UnsafePointer<S.Stored>, _ c: Int, _ nS: Int32, _ out: UnsafeMutablePointer<Scalar>, _: S.Type
) -> Double {
  let magic = Vec(repeating: VectorExp.shiftedMagic(nS))
  var total = Total()
  var i = 0
  let full = c - c % lanes
  while i < full {
    let end = Swift.min(i + block * lanes, full)
    // One vector per iteration: unrolled twice, the v3 loop spilled its accumulators (16 ymm registers hold one
    // SIMD16 chain, its accumulator and the constants, not two); the out-of-order core overlaps the iterations.
    var acc = Vec()
    while i < end {
      let e = VectorExp.expShifted(S.load(x + i), magic: magic)
      store(e, out + i)
      acc += e
      i += lanes
    }
    widenAdd(&total, acc)
  }
  if i < c {
    // Pad with a value of the row (a valid input), then drop the padding lanes from the sum.
    var e = VectorExp.expShifted(
      loadPartial(x + i, c - i, fill: S.scalar(x[i]), S.self), magic: magic)
    for l in (c - i)..<lanes { e[l] = 0 }
    storePartial(e, out + i, c - i)
    widenAdd(&total, e)
  }
  return rowSum(total)
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
  var total = Total()
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
  let sigma = Vec(repeating: Scalar(rowSum(total)))
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
  let range = rowRange(x, c)
  let sigma =
    if let nS = rowShift(range) { rowExpSumShifted(x, c, nS, out) } else { rowExpSum(x, c, range, out) }
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
  // Merge the 2 × lanes running (max, sum) pairs: M = max of the lane maxima, σ = Σ d_l·e^{m_l − M} (in Double).
  let m = horizontalMax(vmax(m0, m1))
  let negM = Vec(repeating: -m)
  var total = Total()
  widenAdd(&total, d0 * VectorExp.exp(m0 + negM))
  widenAdd(&total, d1 * VectorExp.exp(m1 + negM))
  let inv = Vec(repeating: Scalar(1 / rowSum(total)))
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
  let f: FusedScalars
  if let nS = rowShift(range) {
    let sigma = rowExpSumShifted(x, c, nS, grad)
    f = fusedScalars(grad, c, target, Double(x[target]), g, sigma, shiftedBy: nS)
  } else {
    let sigma = rowExpSum(x, c, range, grad)
    f = fusedScalars(grad, c, target, Double(x[target]), g, sigma, max: range.max)
  }
  rowScale(grad, c, f.scale)
  grad[target] = f.targetGradient
  return f.loss
}

/// What the fused kernel needs once a row's `E_i` are stored: the factor `g/σ` of the other entries, the target's
/// gradient `g·(s_T − 1)` and the loss.
private struct FusedScalars {
  var scale: Scalar
  var targetGradient: Scalar
  var loss: Double
  /// Whether `σ = Σ E_i` is finite (then so is every `E_i`).
  var sigmaIsFinite: Bool
}

/// ``FusedScalars`` of a row with `e[i] = e^{x_i − M}`, `σ = Σ e[i]` (the general path).
@inline(__always) private func fusedScalars(
  _ e: UnsafeMutablePointer<Scalar>, _ c: Int, _ target: Int, _ xT: Double, _ g: Scalar,
  _ sigma: Double, max m: Scalar
) -> FusedScalars {
  var sigma = sigma
  let eT = Double(e[target])
  let gd = Double(g)
  var rest = sigma - eT
  var loss = (Double(m) - xT) + Double.log(sigma)
  if rest < eT {
    // A dominant target (s_T > 1/2, so x_T = M and e_T = 1): σ − e_T would cancel. Sum the other terms on their
    // own, so that s_T − 1 = −rest/σ and the loss log(1 + rest) keep their relative accuracy however small.
    rest = rowSumExcept(e, c, target)
    sigma = eT + rest
    loss = Double.log(onePlus: rest)
  }
  return FusedScalars(
    scale: Scalar(gd / sigma), targetGradient: Scalar(-gd * (rest / sigma)), loss: loss,
    sigmaIsFinite: sigma.isFinite)
}

/// ``FusedScalars`` of a row that took the shifted exponential: `e[i] = E_i = e^{x_i − S}`, `S = n_S·ln 2`,
/// `σ = Σ E_i`, and `loss = (S − x_T) + log σ`.
@inline(__always) private func fusedScalars(
  _ e: UnsafeMutablePointer<Scalar>, _ c: Int, _ target: Int, _ xT: Double, _ g: Scalar,
  _ sigma: Double, shiftedBy nS: Int32
) -> FusedScalars {
  let shift = Double(nS) * 0.693_147_180_559_945_3
  var sigma = sigma
  let eT = Double(e[target])
  let gd = Double(g)
  var rest = sigma - eT
  var loss = (shift - xT) + Double.log(sigma)
  if rest < eT {
    // Dominant target (so x_T = M): sum the other terms on their own, and take E_T = e^{x_T − S} in Double, so that
    // s_T − 1 = −rest/σ and the loss log(1 + rest/E_T) keep their relative accuracy however small.
    rest = rowSumExcept(e, c, target)
    let eTExact = Double.exp(xT - shift)
    sigma = eTExact + rest
    loss = Double.log(onePlus: rest / eTExact)
  }
  return FusedScalars(
    scale: Scalar(gd / sigma), targetGradient: Scalar(-gd * (rest / sigma)), loss: loss,
    sigmaIsFinite: sigma.isFinite)
}

// MARK: - Half-precision fused rows

/// A 16-bit storage format (bit patterns) that the fused kernel reads and writes directly (HalfKernels.swift): the
/// logits are widened to `Float` as the max pass and the exponential pass load them, and the gradient is rounded
/// back as the scaling pass stores it, so there is no conversion pass and no `Float` copy of the logits.
///
/// (No `where Stored == UInt16` constraint: it would put a reference to `UInt16`'s metadata into the module as data
/// shared with the other copy, which `scripts/check-kernel-symbols.sh` rejects.)
protocol HalfRowFormat: RowSource {
  /// Rounds `lanes` `Float` values (to nearest, ties to even) and stores them at `p`.
  static func store(_ v: VectorExp.FloatVector, _ p: UnsafeMutablePointer<UInt16>)
  /// ``store(_:_:)`` for values that are not NaN (a format may skip its NaN handling).
  static func storeNotNaN(_ v: VectorExp.FloatVector, _ p: UnsafeMutablePointer<UInt16>)
  /// ``store(_:_:)`` for a vector whose lanes are in ``load(_:)``'s order (``RowSource/position(_:_:)``).
  static func storePermuted(_ v: VectorExp.FloatVector, _ p: UnsafeMutablePointer<UInt16>)
  /// ``storePermuted(_:_:)`` for values that are not NaN.
  static func storePermutedNotNaN(_ v: VectorExp.FloatVector, _ p: UnsafeMutablePointer<UInt16>)
  /// Rounds one `Float` (to nearest, ties to even).
  static func narrow(_ x: Float) -> UInt16
  /// Whether rows are widened into the scratch row before the range pass instead of as the passes load them: for
  /// conversions that cost more than a store and a load (binary16 without F16C).
  static var widensFirst: Bool { get }
}

/// The fused kernel on one row of a 16-bit format, with `scratch` (`c` `Float`s) for the `E_i`.
///
/// Three passes, as for `Float`: range (widening as it loads), exponentials (widening as it loads; `E_i` stored in
/// `Float`), scale (rounding as it stores). The results are those of widening the row, running ``rowFused`` and
/// rounding the gradient: the same `Float` operations, in the same order except that a format whose loads permute the
/// lanes (bfloat16, ``RowSource/position(_:_:)``) adds the `E_i` into other lanes, so σ may differ in its last bits
/// (float16: bit for bit; bfloat16: in the tests, bit for bit or the neighbouring value). Rows that need the general
/// path (`−∞`, NaN, `±inf`, huge ranges or magnitudes) are widened into `scratch` first and run in place there, and
/// so is every row of a format whose conversion is too costly to repeat in two passes (``HalfRowFormat/widensFirst``).
@inline(__always) func rowFusedHalf<S: HalfRowFormat>(
  _ x: UnsafePointer<S.Stored>, _ c: Int, _ target: Int, _ g: Float,
  _ grad: UnsafeMutablePointer<UInt16>, _ scratch: UnsafeMutablePointer<Float>, _: S.Type
) -> Double {
  precondition(target >= 0 && target < c, "BatchSoftmax.fused: target out of range")
  let f: FusedScalars
  let permuted: Bool
  if S.widensFirst {
    S.widen(x, scratch, c)
    (f, permuted) = rowExponentials(UnsafePointer(scratch), c, target, g, scratch, FloatSource.self)
  } else {
    (f, permuted) = rowExponentials(x, c, target, g, scratch, S.self)
  }
  // σ finite means every E_i is (they are ≥ 0), so with a finite scale no product E_i·scale is NaN.
  let notNaN = f.sigmaIsFinite && f.scale.isFinite
  switch (permuted, notNaN) {
  case (true, true): rowScaleNarrow(scratch, c, f.scale, grad, S.self, notNaN: true, permuted: true)
  case (true, false): rowScaleNarrow(scratch, c, f.scale, grad, S.self, notNaN: false, permuted: true)
  case (false, true): rowScaleNarrow(scratch, c, f.scale, grad, S.self, notNaN: true, permuted: false)
  case (false, false): rowScaleNarrow(scratch, c, f.scale, grad, S.self, notNaN: false, permuted: false)
  }
  grad[target] = S.narrow(f.targetGradient)
  return f.loss
}

/// The range and exponential passes of the fused kernel: stores `E_i` into `e` (which may be `x` itself when the
/// source is `Float`) and returns the row's ``FusedScalars``, and whether `e` is in the source's load order
/// (``RowSource/position(_:_:)``; the shifted path) rather than in element order (the general path).
@inline(__always) private func rowExponentials<S: RowSource>(
  _ x: UnsafePointer<S.Stored>, _ c: Int, _ target: Int, _ g: Float, _ e: UnsafeMutablePointer<Float>,
  _: S.Type
) -> (FusedScalars, permuted: Bool) {
  let range = rowRange(x, c, S.self)
  let xT = Double(S.scalar(x[target]))
  if let nS = rowShift(range) {
    let sigma = rowExpSumShifted(x, c, nS, e, S.self)
    let t = S.position(target, c - c % lanes)
    return (fusedScalars(e, c, t, xT, g, sigma, shiftedBy: nS), true)
  }
  S.widen(x, e, c)
  // In place: each vector is loaded before the same elements are stored.
  let sigma = rowExpSum(e, c, range, e)
  return (fusedScalars(e, c, target, xT, g, sigma, max: range.max), false)
}

/// `out[i] = round(e[i]·s)` in the 16-bit format; `notNaN` says that no product is NaN, `permuted` that the whole
/// vectors of `e` are in the format's load order.
@inline(__always) private func rowScaleNarrow<S: HalfRowFormat>(
  _ e: UnsafePointer<Scalar>, _ c: Int, _ s: Scalar, _ out: UnsafeMutablePointer<UInt16>, _: S.Type,
  notNaN: Bool, permuted: Bool
) {
  let sv = Vec(repeating: s)
  var i = 0
  if permuted {
    while i + lanes <= c {
      if notNaN {
        S.storePermutedNotNaN(load(e + i) * sv, out + i)
      } else {
        S.storePermuted(load(e + i) * sv, out + i)
      }
      i += lanes
    }
  }
  if notNaN {
    while i + lanes <= c {
      S.storeNotNaN(load(e + i) * sv, out + i)
      i += lanes
    }
  }
  while i + lanes <= c {
    S.store(load(e + i) * sv, out + i)
    i += lanes
  }
  while i < c {
    out[i] = S.narrow(e[i] * s)
    i += 1
  }
}

/// `Σ_{i≠t} out[i]`, summed like ``rowExpSum``.
private func rowSumExcept(_ out: UnsafeMutablePointer<Scalar>, _ c: Int, _ t: Int) -> Double {
  let saved = out[t]
  out[t] = 0
  var total = Total()
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
  return rowSum(total) + tail
}

// MARK: - Entry points

extension BatchKernels {
  /// Naive softmax of each row, `s_i = e^{x_i} / Σ_j e^{x_j}`, exactly as the formula reads (a true division).
  public static func naive(
    _ x: UnsafePointer<Float>, rows: Int, classes: Int, into out: UnsafeMutablePointer<Float>
  ) {
    for r in 0..<rows { rowNaive(x + r * classes, classes, out + r * classes) }
  }

  /// Stable softmax of each row in three passes (max and min, exponentials stored and summed, scale).
  public static func stable(
    _ x: UnsafePointer<Float>, rows: Int, classes: Int, into out: UnsafeMutablePointer<Float>
  ) {
    for r in 0..<rows { rowStable(x + r * classes, classes, out + r * classes) }
  }

  /// Online softmax of each row in two passes (running max and rescaled sum, then the exponentials again).
  public static func online(
    _ x: UnsafePointer<Float>, rows: Int, classes: Int, into out: UnsafeMutablePointer<Float>
  ) {
    for r in 0..<rows { rowOnline(x + r * classes, classes, out + r * classes) }
  }

  /// Softmax + cross-entropy loss and gradient `g·(s − e_T)` of each row; the loss is rounded from `Double` once.
  public static func fused(
    _ x: UnsafePointer<Float>, rows: Int, classes: Int, targets: UnsafePointer<Int>,
    upstream: UnsafePointer<Float>, loss: UnsafeMutablePointer<Float>,
    gradient: UnsafeMutablePointer<Float>
  ) {
    for r in 0..<rows {
      loss[r] = Float(rowFused(x + r * classes, classes, targets[r], upstream[r], gradient + r * classes))
    }
  }
}
