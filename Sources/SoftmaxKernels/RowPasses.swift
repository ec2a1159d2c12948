import RealModule

// The row passes of every batch kernel, written once over `KernelFormat` (VectorExp.swift) and specialised for
// `FloatLanes` and `DoubleLanes` (the entry points in BatchKernels.swift name the concrete formats). This file is
// compiled twice (SoftmaxKernels and, through a symlink, SoftmaxKernelsV3; see Package.swift).

/// Vectors summed in the row's own lanes before the block is added to the `Double` total (each lane adds at most 16
/// terms in the working precision, whatever the vector width).
private let block = 16

// MARK: - Vector helpers

@inline(__always) private func load<V: SIMD>(_ p: UnsafePointer<V.Scalar>) -> V {
  UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

@inline(__always) private func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<V.Scalar>) {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
}

@inline(__always) private func storePartial<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<V.Scalar>, _ count: Int) {
  for l in 0..<count { p[l] = v[l] }
}

extension KernelFormat {
  /// Lane-wise maximum as compare + select, which lowers to one `max` instruction (unlike `pointwiseMax`).
  @_transparent static func max(_ a: Vector, _ b: Vector) -> Vector {
    a.replacing(with: b, where: lanes(a, lessThan: b))
  }

  /// Lane-wise minimum as compare + select (one `min` instruction).
  @_transparent static func min(_ a: Vector, _ b: Vector) -> Vector {
    a.replacing(with: b, where: lanes(b, lessThan: a))
  }

  /// `e^{x − m}` for the exact difference `x − m`: two-sum recovers the rounding error of the subtraction, and the
  /// exponential takes it as a correction of the reduced argument. `normal` says that every `x − m` of the row is in
  /// `[normalFloor, 0]`, so the cheaper ``expNormalRange(_:correction:)`` applies.
  @_transparent static func expMinus(_ x: Vector, _ negM: Vector, normal: Bool = false) -> Vector {
    let d = x + negM
    let bb = d - x
    let err = (x - (d - bb)) + (negM - bb)
    return normal ? expNormalRange(d, correction: err) : exp(d, correction: err)
  }
}

// MARK: - Row sources

/// Where the logits of a row come from: the lanes' own scalar format, or a 16-bit format (bit patterns) widened to
/// `Float` as it is loaded, so that the half-precision fused kernel needs no separate conversion pass
/// (HalfKernels.swift).
protocol RowSource {
  associatedtype Stored
  associatedtype Format: KernelFormat
  /// A vector of values from `p`, widened.
  static func load(_ p: UnsafePointer<Stored>) -> Format.Vector
  /// One value, widened.
  static func scalar(_ v: Stored) -> Format.Scalar
  /// Widens `count` values into `dst` (which may be `src` itself for the lanes' own format).
  static func widen(_ src: UnsafePointer<Stored>, _ dst: UnsafeMutablePointer<Format.Scalar>, _ count: Int)
  /// Where ``load(_:)`` puts element `i` of a row whose first `full` elements are whole vectors: `i`, unless the
  /// format's load permutes the lanes of a vector (bfloat16 deinterleaves them; the tail is loaded in order).
  static func position(_ i: Int, _ full: Int) -> Int
  /// Whether `Stored` is `Format.Scalar` (the exponential pass then reads the row where it is).
  static var isPlain: Bool { get }
}

extension RowSource {
  static var isPlain: Bool { false }
}

/// Rows in the lanes' own format: plain loads.
enum PlainRows<Format: KernelFormat>: RowSource {
  @inline(__always) static func load(_ p: UnsafePointer<Format.Scalar>) -> Format.Vector {
    UnsafeRawPointer(p).loadUnaligned(as: Format.Vector.self)
  }
  @inline(__always) static func scalar(_ v: Format.Scalar) -> Format.Scalar { v }
  @inline(__always) static func widen(
    _ src: UnsafePointer<Format.Scalar>, _ dst: UnsafeMutablePointer<Format.Scalar>, _ count: Int
  ) {
    if UnsafePointer(dst) != src { dst.update(from: src, count: count) }
  }
  @inline(__always) static func position(_ i: Int, _ full: Int) -> Int { i }
  static var isPlain: Bool { true }
}

/// The first `count` (< lanes) values from `p` widened, the other lanes `fill`.
@inline(__always) private func loadPartial<S: RowSource>(
  _ p: UnsafePointer<S.Stored>, _ count: Int, fill: S.Format.Scalar, _: S.Type
) -> S.Format.Vector {
  var v = S.Format.Vector(repeating: fill)
  for l in 0..<count { v[l] = S.scalar(p[l]) }
  return v
}

// MARK: - Row passes

/// The largest and smallest entry of a row (the minimum only chooses the exponential's fast path). The values are
/// widened exactly, so the result is the same as for the widened row.
private func rowRange<S: RowSource>(_ x: UnsafePointer<S.Stored>, _ c: Int, _: S.Type) -> (
  max: S.Format.Scalar, min: S.Format.Scalar
) {
  let lanes = S.Format.Vector.scalarCount
  var m0 = S.Format.Vector(repeating: -.infinity)
  var m1 = m0
  var n0 = S.Format.Vector(repeating: .infinity)
  var n1 = n0
  var i = 0
  while i + 2 * lanes <= c {
    let v0 = S.load(x + i)
    let v1 = S.load(x + i + lanes)
    m0 = S.Format.max(m0, v0)
    m1 = S.Format.max(m1, v1)
    n0 = S.Format.min(n0, v0)
    n1 = S.Format.min(n1, v1)
    i += 2 * lanes
  }
  if i + lanes <= c {
    let v = S.load(x + i)
    m0 = S.Format.max(m0, v)
    n0 = S.Format.min(n0, v)
    i += lanes
  }
  var m = S.Format.horizontalMax(S.Format.max(m0, m1))
  var n = S.Format.horizontalMin(S.Format.min(n0, n1))
  while i < c {
    let v = S.scalar(x[i])
    if v > m { m = v }
    if v < n { n = v }
    i += 1
  }
  return (m, n)
}

/// Stores `e^{x_i − m}` into `out` and returns `Σ e^{x_i − m}` (block sums in the lanes, total in `Double`).
private func rowExpSum<F: KernelFormat>(
  _ x: UnsafePointer<F.Scalar>, _ c: Int, _ range: (max: F.Scalar, min: F.Scalar),
  _ out: UnsafeMutablePointer<F.Scalar>, _: F.Type
) -> Double {
  if range.min - range.max >= F.normalFloor {
    return rowExpSum(x, c, range.max, out, F.self, NormalRangeExp.self)
  } else {
    return rowExpSum(x, c, range.max, out, F.self, ClampedExp.self)
  }
}

@inline(__always) private func rowExpSum<F: KernelFormat, E: ExpChoice>(
  _ x: UnsafePointer<F.Scalar>, _ c: Int, _ m: F.Scalar, _ out: UnsafeMutablePointer<F.Scalar>, _: F.Type,
  _: E.Type
) -> Double {
  let negM = F.Vector(repeating: -m)
  var (total, i) = blockSum(c, ExpMinus<F, E>(x: x, out: out, negM: negM))
  if i < c {
    let e = F.expMinus(loadPartial(x + i, c - i, fill: -.infinity, PlainRows<F>.self), negM)
    storePartial(e, out + i, c - i)
    F.add(e, to: &total)
  }
  return F.sum(total)
}

/// Stores `E_i = e^{x_i − S}` with `S = n_S·ln 2` (a real number, not rounded) into `out` and returns `Σ E_i`; the
/// logits are widened as they are loaded.
///
/// Shifting by a multiple of ln 2 instead of by `M` is exact: the exponential reduces `x_i` itself and subtracts `n_S`
/// from the exponent, so there is no rounding error of `x_i − M` to recover (no two-sum) and no subtraction at all.
/// `M − S ≤ ln2/2`, so `E_i ≤ √2`; the softmax `E_i / Σ E_j` is the same.
private func rowExpSumShifted<S: RowSource>(
  _ x: UnsafePointer<S.Stored>, _ c: Int, _ nS: Int32, _ out: UnsafeMutablePointer<S.Format.Scalar>, _: S.Type
) -> Double {
  let lanes = S.Format.Vector.scalarCount
  let magic = S.Format.shiftedMagic(nS)
  // One vector per iteration (blockSum): unrolled twice, the v3 loop spilled its accumulators (16 ymm registers hold
  // one SIMD16 chain, its accumulator and the constants, not two); the out-of-order core overlaps the iterations.
  var (total, i) = blockSum(c, ShiftedExp<S>(x: x, out: out, magic: magic))
  if i < c {
    // Pad with a value of the row (a valid input), then drop the padding lanes from the sum.
    var e = S.Format.expShifted(loadPartial(x + i, c - i, fill: S.scalar(x[i]), S.self), magic: magic)
    for l in (c - i)..<lanes { e[l] = 0 }
    storePartial(e, out + i, c - i)
    S.Format.add(e, to: &total)
  }
  return S.Format.sum(total)
}

/// `Σ term(i)` over the whole vectors of a row (`i = 0, lanes, …` below `c − c mod lanes`), each also stored where
/// the term stores: summed in the row's own lanes (one accumulator, or two chains of them for ``BlockTerm/chains``
/// `== 2`) in blocks of `block` vectors, each block added to the `Double` total. Returns the total and the first
/// element after the whole vectors.
@inline(__always) private func blockSum<T: BlockTerm>(_ c: Int, _ term: T) -> (total: T.Format.Total, end: Int) {
  typealias F = T.Format
  let lanes = F.Vector.scalarCount
  var total = F.Total()
  var i = 0
  let full = c - c % lanes
  while i < full {
    let end = Swift.min(i + block * lanes, full)
    var acc0 = F.Vector()
    if T.chains == 2 {
      // Both vectors are computed before either is stored (`out` may be the row itself).
      var acc1 = F.Vector()
      while i + 2 * lanes <= end {
        let e0 = term(i)
        let e1 = term(i + lanes)
        term.keep(e0, i)
        term.keep(e1, i + lanes)
        acc0 += e0
        acc1 += e1
        i += 2 * lanes
      }
      if i < end {
        let e0 = term(i)
        term.keep(e0, i)
        acc0 += e0
        i += lanes
      }
      F.add(acc0 + acc1, to: &total)
    } else {
      while i < end {
        let e = term(i)
        term.keep(e, i)
        acc0 += e
        i += lanes
      }
      F.add(acc0, to: &total)
    }
  }
  return (total, i)
}

/// The vector at element `i` of a ``blockSum(_:_:)``: a type rather than a closure, so that the
/// specialised loop inlines it (the optimiser kept closures of an exponential's size out of line, a call per vector).
protocol BlockTerm {
  associatedtype Format: KernelFormat
  /// Accumulator chains per block: 1, or 2 for terms whose latency a second chain hides.
  static var chains: Int { get }
  func callAsFunction(_ i: Int) -> Format.Vector
  /// Keeps the vector of element `i` (the exponential passes store it; a plain sum does not).
  func keep(_ v: Format.Vector, _ i: Int)
}

extension BlockTerm {
  static var chains: Int { 1 }
  @inline(__always) func keep(_ v: Format.Vector, _ i: Int) {}
}

/// Which exponential ``ExpMinus`` takes, as a type so that the choice is made once per row, at compile time.
protocol ExpChoice {
  /// Whether every `x − M` of the row is in `[normalFloor, 0]` (``KernelFormat/expNormalRange(_:correction:)``).
  static var normal: Bool { get }
}

private enum NormalRangeExp: ExpChoice { static var normal: Bool { true } }

private enum ClampedExp: ExpChoice { static var normal: Bool { false } }

/// `e^{x_i − M}` for the exact difference (``KernelFormat/expMinus(_:_:normal:)``), stored at `out + i`; two chains.
private struct ExpMinus<Format: KernelFormat, Choice: ExpChoice>: BlockTerm {
  var x: UnsafePointer<Format.Scalar>
  var out: UnsafeMutablePointer<Format.Scalar>
  var negM: Format.Vector
  static var chains: Int { 2 }
  @inline(__always) func callAsFunction(_ i: Int) -> Format.Vector {
    Format.expMinus(load(x + i), negM, normal: Choice.normal)
  }
  @inline(__always) func keep(_ v: Format.Vector, _ i: Int) { store(v, out + i) }
}

/// `e^{x_i − n_S·ln 2}`, the logits widened as they are loaded (``KernelFormat/expShifted(_:magic:)``), stored at
/// `out + i`.
private struct ShiftedExp<Source: RowSource>: BlockTerm {
  typealias Format = Source.Format
  var x: UnsafePointer<Source.Stored>
  var out: UnsafeMutablePointer<Format.Scalar>
  var magic: Format.Vector
  @inline(__always) func callAsFunction(_ i: Int) -> Format.Vector {
    Format.expShifted(Source.load(x + i), magic: magic)
  }
  @inline(__always) func keep(_ v: Format.Vector, _ i: Int) { store(v, out + i) }
}

/// `e^{x_i}`, unshifted (the naive kernel), stored at `out + i`.
private struct NaiveExp<Format: KernelFormat>: BlockTerm {
  var x: UnsafePointer<Format.Scalar>
  var out: UnsafeMutablePointer<Format.Scalar>
  @inline(__always) func callAsFunction(_ i: Int) -> Format.Vector { Format.exp(load(x + i)) }
  @inline(__always) func keep(_ v: Format.Vector, _ i: Int) { store(v, out + i) }
}

/// `x_i` itself.
private struct Load<Format: KernelFormat>: BlockTerm {
  var x: UnsafePointer<Format.Scalar>
  @inline(__always) func callAsFunction(_ i: Int) -> Format.Vector { load(x + i) }
}

/// `out[i] *= s`.
private func rowScale<F: KernelFormat>(_ out: UnsafeMutablePointer<F.Scalar>, _ c: Int, _ s: F.Scalar, _: F.Type) {
  let sv = F.Vector(repeating: s)
  var i = 0
  while i + F.Vector.scalarCount <= c {
    store(load(out + i) * sv, out + i)
    i += F.Vector.scalarCount
  }
  while i < c {
    out[i] *= s
    i += 1
  }
}

func rowNaive<F: KernelFormat>(
  _ x: UnsafePointer<F.Scalar>, _ c: Int, _ out: UnsafeMutablePointer<F.Scalar>, _: F.Type
) {
  let lanes = F.Vector.scalarCount
  var (total, i) = blockSum(c, NaiveExp<F>(x: x, out: out))
  if i < c {
    let e = F.exp(loadPartial(x + i, c - i, fill: -.infinity, PlainRows<F>.self))
    storePartial(e, out + i, c - i)
    F.add(e, to: &total)
  }
  // σ rounded to the working precision (+inf if it overflows, 0 if everything underflowed), then a true division,
  // as the formula reads: inf/inf = NaN, finite/inf = 0, 0/0 = NaN.
  let sigma = F.Vector(repeating: F.narrowed(F.sum(total)))
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

func rowStable<F: KernelFormat>(
  _ x: UnsafePointer<F.Scalar>, _ c: Int, _ out: UnsafeMutablePointer<F.Scalar>, _: F.Type
) {
  let range = rowRange(x, c, PlainRows<F>.self)
  let sigma =
    if let nS = F.shift(of: range) {
      rowExpSumShifted(x, c, nS, out, PlainRows<F>.self)
    } else {
      rowExpSum(x, c, range, out, F.self)
    }
  rowScale(out, c, F.narrowed(1 / sigma), F.self)
}

/// One step of the lane-wise online recurrence: `m' = max(m, v)`, `d' = d·e^{m − m'} + e^{v − m'}`.
@inline(never) private func onlineStep<F: KernelFormat>(
  _ m: inout F.Vector, _ d: inout F.Vector, _ lo: inout F.Vector, _ v: F.Vector, _: F.Type
) {
  let mNew = F.max(m, v)
  lo = F.min(lo, v)
  // While a lane has seen only −∞ its max is −∞; shift by 0 then, so both exponentials are e^{−∞} = 0, not NaN.
  let shift = mNew.replacing(with: 0, where: F.lanes(mNew, equalTo: F.Vector(repeating: -.infinity)))
  let negShift = -shift
  d = d * F.exp(m + negShift) + F.expMinus(v, negShift)
  m = mNew
}

func rowOnline<F: KernelFormat>(
  _ x: UnsafePointer<F.Scalar>, _ c: Int, _ out: UnsafeMutablePointer<F.Scalar>, _: F.Type
) {
  let lanes = F.Vector.scalarCount
  var m0 = F.Vector(repeating: -.infinity)
  var m1 = m0
  var d0 = F.Vector()
  var d1 = F.Vector()
  var lo = F.Vector(repeating: .infinity)
  var i = 0
  while i + 2 * lanes <= c {
    onlineStep(&m0, &d0, &lo, load(x + i), F.self)
    onlineStep(&m1, &d1, &lo, load(x + i + lanes), F.self)
    i += 2 * lanes
  }
  if i + lanes <= c {
    onlineStep(&m0, &d0, &lo, load(x + i), F.self)
    i += lanes
  }
  var rowMin = F.horizontalMin(lo)
  if i < c {
    // The −∞ padding of the last partial vector must not count as the row's minimum.
    var padded = lo
    onlineStep(&m0, &d0, &padded, loadPartial(x + i, c - i, fill: -.infinity, PlainRows<F>.self), F.self)
    for j in i..<c where x[j] < rowMin { rowMin = x[j] }
  }
  // Merge the 2 × lanes running (max, sum) pairs: M = max of the lane maxima, σ = Σ d_l·e^{m_l − M} (in Double).
  let m = F.horizontalMax(F.max(m0, m1))
  let negM = F.Vector(repeating: -m)
  var total = F.Total()
  F.add(d0 * F.exp(m0 + negM), to: &total)
  F.add(d1 * F.exp(m1 + negM), to: &total)
  let inv = F.Vector(repeating: F.narrowed(1 / F.sum(total)))
  // Second pass: the exponentials again, scaled (the fast exponential when the row's range allows it).
  i = 0
  if rowMin - m >= F.normalFloor {
    while i + lanes <= c {
      store(F.expMinus(load(x + i), negM, normal: true) * inv, out + i)
      i += lanes
    }
  } else {
    while i + lanes <= c {
      store(F.expMinus(load(x + i), negM) * inv, out + i)
      i += lanes
    }
  }
  if i < c {
    storePartial(F.expMinus(loadPartial(x + i, c - i, fill: -.infinity, PlainRows<F>.self), negM) * inv, out + i, c - i)
  }
}

/// Loss `(M − x_T) + log σ` and gradient `g·(s − e_T)` for one row; returns the loss in `Double`.
func rowFused<F: KernelFormat>(
  _ x: UnsafePointer<F.Scalar>, _ c: Int, _ target: Int, _ g: F.Scalar, _ grad: UnsafeMutablePointer<F.Scalar>,
  _: F.Type
) -> Double {
  precondition(target >= 0 && target < c, "BatchSoftmax.fused: target out of range")
  let (f, _) = rowExponentials(x, c, target, g, grad, PlainRows<F>.self)
  rowScale(grad, c, f.scale, F.self)
  grad[target] = f.targetGradient
  return f.loss
}

/// What the fused kernel needs once a row's `E_i` are stored: the factor `g/σ` of the other entries, the target's
/// gradient `g·(s_T − 1)` and the loss.
private struct FusedScalars<Scalar> {
  var scale: Scalar
  var targetGradient: Scalar
  var loss: Double
  /// Whether `σ = Σ E_i` is finite (then so is every `E_i`).
  var sigmaIsFinite: Bool
}

/// ``FusedScalars`` of a row with `e[i] = e^{x_i − M}`, `σ = Σ e[i]` (the general path).
@inline(__always) private func fusedScalars<F: KernelFormat>(
  _ e: UnsafeMutablePointer<F.Scalar>, _ c: Int, _ target: Int, _ xT: Double, _ g: F.Scalar, _ sigma: Double,
  max m: F.Scalar, _: F.Type
) -> FusedScalars<F.Scalar> {
  var sigma = sigma
  let eT = F.widened(e[target])
  var rest = sigma - eT
  var loss = (F.widened(m) - xT) + Double.log(sigma)
  if rest < eT {
    // A dominant target (s_T > 1/2, so x_T = M and e_T = 1): σ − e_T would cancel. Sum the other terms on their
    // own, so that s_T − 1 = −rest/σ and the loss log(1 + rest) keep their relative accuracy however small.
    rest = rowSumExcept(e, c, target, F.self)
    sigma = eT + rest
    loss = Double.log(onePlus: rest)
  }
  return fusedScalars(g, sigma, rest, loss, F.self)
}

/// ``FusedScalars`` of a row that took the shifted exponential: `e[i] = E_i = e^{x_i − S}`, `S = n_S·ln 2`,
/// `σ = Σ E_i`, and `loss = (S − x_T) + log σ`.
@inline(__always) private func fusedScalars<F: KernelFormat>(
  _ e: UnsafeMutablePointer<F.Scalar>, _ c: Int, _ target: Int, _ xT: Double, _ g: F.Scalar, _ sigma: Double,
  shiftedBy nS: Int32, _: F.Type
) -> FusedScalars<F.Scalar> {
  let shift = Double(nS) * 0.693_147_180_559_945_3
  var sigma = sigma
  let eT = F.widened(e[target])
  var rest = sigma - eT
  var loss = (shift - xT) + Double.log(sigma)
  if rest < eT {
    // Dominant target (so x_T = M): sum the other terms on their own, and take E_T = e^{x_T − S} in Double, so that
    // s_T − 1 = −rest/σ and the loss log(1 + rest/E_T) keep their relative accuracy however small.
    rest = rowSumExcept(e, c, target, F.self)
    let eTExact = Double.exp(xT - shift)
    sigma = eTExact + rest
    loss = Double.log(onePlus: rest / eTExact)
  }
  return fusedScalars(g, sigma, rest, loss, F.self)
}

/// The scale `g/σ` and the target's gradient `−g·rest/σ`, rounded once from `Double`.
@inline(__always) private func fusedScalars<F: KernelFormat>(
  _ g: F.Scalar, _ sigma: Double, _ rest: Double, _ loss: Double, _: F.Type
) -> FusedScalars<F.Scalar> {
  let gd = F.widened(g)
  return FusedScalars(
    scale: F.narrowed(gd / sigma), targetGradient: F.narrowed(-gd * (rest / sigma)), loss: loss,
    sigmaIsFinite: sigma.isFinite)
}

/// The range and exponential passes of the fused kernel: stores `E_i` into `e` (which may be `x` itself when the
/// source is the lanes' own format) and returns the row's ``FusedScalars``, and whether `e` is in the source's load
/// order (``RowSource/position(_:_:)``; the shifted path) rather than in element order (the general path).
@inline(__always) private func rowExponentials<S: RowSource>(
  _ x: UnsafePointer<S.Stored>, _ c: Int, _ target: Int, _ g: S.Format.Scalar,
  _ e: UnsafeMutablePointer<S.Format.Scalar>, _: S.Type
) -> (FusedScalars<S.Format.Scalar>, permuted: Bool) {
  let range = rowRange(x, c, S.self)
  let xT = S.Format.widened(S.scalar(x[target]))
  if let nS = S.Format.shift(of: range) {
    let sigma = rowExpSumShifted(x, c, nS, e, S.self)
    let t = S.position(target, c - c % S.Format.Vector.scalarCount)
    return (fusedScalars(e, c, t, xT, g, sigma, shiftedBy: nS, S.Format.self), true)
  }
  let sigma: Double
  if S.isPlain {
    sigma = rowExpSum(UnsafeRawPointer(x).assumingMemoryBound(to: S.Format.Scalar.self), c, range, e, S.Format.self)
  } else {
    S.widen(x, e, c)
    // In place: each vector is loaded before the same elements are stored.
    sigma = rowExpSum(e, c, range, e, S.Format.self)
  }
  return (fusedScalars(e, c, target, xT, g, sigma, max: range.max, S.Format.self), false)
}

// MARK: - Half-precision fused rows

/// A 16-bit storage format (bit patterns) that the fused kernel reads and writes directly (HalfKernels.swift): the
/// logits are widened to `Float` as the max pass and the exponential pass load them, and the gradient is rounded
/// back as the scaling pass stores it, so there is no conversion pass and no `Float` copy of the logits.
///
/// (No `where Stored == UInt16` constraint: it would put a reference to `UInt16`'s metadata into the module as data
/// shared with the other copy, which `scripts/check-kernel-symbols.sh` rejects.)
protocol HalfRowFormat: RowSource {
  /// Rounds a vector (to nearest, ties to even) and stores it at `p`.
  static func store(_ v: Format.Vector, _ p: UnsafeMutablePointer<UInt16>)
  /// ``store(_:_:)`` for values that are not NaN (a format may skip its NaN handling).
  static func storeNotNaN(_ v: Format.Vector, _ p: UnsafeMutablePointer<UInt16>)
  /// ``store(_:_:)`` for a vector whose lanes are in ``load(_:)``'s order (``RowSource/position(_:_:)``).
  static func storePermuted(_ v: Format.Vector, _ p: UnsafeMutablePointer<UInt16>)
  /// ``storePermuted(_:_:)`` for values that are not NaN.
  static func storePermutedNotNaN(_ v: Format.Vector, _ p: UnsafeMutablePointer<UInt16>)
  /// Rounds one value (to nearest, ties to even).
  static func narrow(_ x: Format.Scalar) -> UInt16
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
  _ x: UnsafePointer<S.Stored>, _ c: Int, _ target: Int, _ g: S.Format.Scalar,
  _ grad: UnsafeMutablePointer<UInt16>, _ scratch: UnsafeMutablePointer<S.Format.Scalar>, _: S.Type
) -> Double {
  precondition(target >= 0 && target < c, "BatchSoftmax.fused: target out of range")
  let f: FusedScalars<S.Format.Scalar>
  let permuted: Bool
  if S.widensFirst {
    S.widen(x, scratch, c)
    (f, permuted) = rowExponentials(UnsafePointer(scratch), c, target, g, scratch, PlainRows<S.Format>.self)
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

/// `out[i] = round(e[i]·s)` in the 16-bit format; `notNaN` says that no product is NaN, `permuted` that the whole
/// vectors of `e` are in the format's load order.
@inline(__always) private func rowScaleNarrow<S: HalfRowFormat>(
  _ e: UnsafePointer<S.Format.Scalar>, _ c: Int, _ s: S.Format.Scalar, _ out: UnsafeMutablePointer<UInt16>, _: S.Type,
  notNaN: Bool, permuted: Bool
) {
  let lanes = S.Format.Vector.scalarCount
  let sv = S.Format.Vector(repeating: s)
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

/// `Σ_{i≠t} out[i]`, summed like ``rowExpSum(_:_:_:_:_:)``.
private func rowSumExcept<F: KernelFormat>(_ out: UnsafeMutablePointer<F.Scalar>, _ c: Int, _ t: Int, _: F.Type)
  -> Double
{
  let saved = out[t]
  out[t] = 0
  let (total, end) = blockSum(c, Load<F>(x: out))
  var tail = 0.0
  for i in end..<c { tail += F.widened(out[i]) }
  out[t] = saved
  return F.sum(total) + tail
}
