/// Batched softmax and cross-entropy kernels over row-major `rows × classes` buffers.
///
/// These are the fast counterparts of the teaching formulas in ``Softmax`` and ``CrossEntropy``: the same math, but
/// over a whole batch, without allocation, sixteen `Float` (eight `Double`) lanes at a time with the polynomial
/// ``VectorExp``. Every kernel reads row `r` from `logits[r·classes ..< (r+1)·classes]` and writes the same range of
/// its output; the output may not overlap the input.
///
/// | kernel | passes over a row | `e^{·}` per element |
/// |---|---|---|
/// | ``naive(_:rows:classes:into:)-(UnsafeBufferPointer<Float>,_,_,_)`` | exp + sum, divide | 1 (overflows for `x > ln(max)`) |
/// | `stable` | max, exp + sum (stored), scale | 1 |
/// | `online` | running max + rescaled sum, exp + scale | 3 (two in the first pass, one in the second) |
/// | `fused` | max, exp + sum (stored), scale − target | 1, and it also writes the loss |
///
/// Accuracy: each `e^{x_i − M}` is evaluated for the *exact* difference. In the `Float` `stable` and `fused` kernels,
/// rows with `|M| ≤ 512` and `min − M ≥ −86` (the common case) are shifted by `S = n·ln 2 ≈ M` instead of `M`: the
/// exponential reduces `x_i` itself exactly and subtracts `n` from the exponent, so no rounding error arises at all
/// (see ``VectorExp/expShifted(_:magic:)``). Other rows, and every `Double` row, recover the rounding error of
/// `x_i − M` with a two-sum and fold it into the reduced argument. The sum is accumulated per lane in short blocks and finished in
/// `Double`, and the loss is `(M − x_T) + log σ` computed in `Double`. For `Float` and `Double` the fused gradient and
/// loss are then within a few ulps of the exact result (the tests check 4 ulps). Half-precision inputs (`Float16`,
/// and bfloat16 stored as `UInt16` bit patterns) are converted to `Float` a chunk of rows at a time, run through the
/// `Float` kernel and rounded back once.
///
/// Rows whose logits are all `−∞` (or contain NaN or `+∞`) give NaN; `−∞` entries in an otherwise finite row give an
/// exact `0` probability (a masked class).
public enum BatchSoftmax {
  /// The kernels of the benchmark, by name.
  public enum Kernel: String, CaseIterable, Sendable {
    /// `s_i = e^{x_i} / Σ e^{x_j}` as written: overflows and underflows like the textbook formula.
    case naive
    /// Max-subtracted, three passes: max, exponentials (stored) and their sum, scale.
    case stable
    /// Online (Milakov & Gimelshein): running max and rescaled running sum in one pass, then exponentials again.
    case online
    /// Stable softmax, cross-entropy loss and its gradient `g·(s − e_T)` in one kernel.
    case fused
  }

  @usableFromInline @inline(__always)
  static func checkShape(_ count: Int, _ rows: Int, _ classes: Int, _ name: StaticString) {
    precondition(rows >= 0 && classes >= 1, "BatchSoftmax: need rows >= 0 and classes >= 1")
    precondition(count >= rows * classes, "\(name)")
  }
}
