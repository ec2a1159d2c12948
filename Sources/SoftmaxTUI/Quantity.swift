import SoftmaxCore

/// A quantity a lesson can name in `> expect:` and `> ask:` lines: one number of the explorer's evaluation.
///
/// Names: `loss`, `loss_naive`, `updated_loss`, `lse` (log-sum-exp of z = x/τ), `max` (max z), `sigma_naive` (the
/// naive Σ e^{z_j} in the precision, which can be `inf`), `target`, `classes`, `selection`, and per class
/// `softmax[i]`, `softmax_naive[i]`, `log_softmax[i]`, `gradient[i]`, `logits[i]` (as rounded into the precision),
/// `updated_logits[i]` (after one step), `jacobian[i][n]` (∂s_i/∂x_n); indices are 0-based.
public enum Quantity: Equatable, Sendable, CustomStringConvertible {
  case loss, lossNaive, updatedLoss, logSumExp, max, sigmaNaive, target, classes, selection
  case softmax(Int)
  case softmaxNaive(Int)
  case logSoftmax(Int)
  case gradient(Int)
  case logit(Int)
  case updatedLogit(Int)
  case jacobian(Int, Int)

  /// The quantities that are one number, by name.
  public static let scalars: [(String, Quantity)] = [
    ("loss", .loss), ("loss_naive", .lossNaive), ("updated_loss", .updatedLoss), ("lse", .logSumExp), ("max", .max),
    ("sigma_naive", .sigmaNaive), ("target", .target), ("classes", .classes), ("selection", .selection),
  ]
  /// The per-class quantities, by name (each takes one index).
  public static var vectors: [(String, (Int) -> Quantity)] {
    [
      ("softmax", Quantity.softmax), ("softmax_naive", Quantity.softmaxNaive), ("log_softmax", Quantity.logSoftmax),
      ("gradient", Quantity.gradient), ("logits", Quantity.logit), ("updated_logits", Quantity.updatedLogit),
    ]
  }

  /// Every name, as messages list them.
  public static var names: String {
    (scalars.map(\.0) + vectors.map { "\($0.0)[i]" } + ["jacobian[i][n]"]).joined(separator: ", ")
  }

  /// Parses `loss`, `softmax[2]`, `jacobian[0][2]`; the message says what is wrong.
  public init(parsing text: Substring) throws(InputError) {
    let t = text.trimmed(" \t")
    let name = t.prefix { $0.isLetter || $0 == "_" }
    var rest = t.dropFirst(name.count)
    var indices: [Int] = []
    while rest.first == "[" {
      guard let close = rest.firstIndex(of: "]") else { throw InputError("'\(t)': a '[' without its ']'") }
      let inner = rest[rest.index(after: rest.startIndex)..<close].trimmed(" ")
      guard let i = Int(inner), i >= 0 else {
        throw InputError("'\(t)': the index '\(inner)' is not a class number (0, 1, 2, …)")
      }
      indices.append(i)
      rest = rest[rest.index(after: close)...]
    }
    guard rest.trimmed(" ").isEmpty else {
      throw InputError("'\(t)' is not a quantity (expected one of \(Quantity.names))")
    }
    if let q = Quantity.scalars.first(where: { $0.0 == name })?.1 {
      guard indices.isEmpty else { throw InputError("'\(name)' is one number: it takes no index") }
      self = q
    } else if let make = Quantity.vectors.first(where: { $0.0 == name })?.1 {
      guard indices.count == 1 else { throw InputError("'\(name)' takes one index, as in \(name)[0]") }
      self = make(indices[0])
    } else if name == "jacobian" {
      guard indices.count == 2 else { throw InputError("'jacobian' takes two indices, as in jacobian[0][2]") }
      self = .jacobian(indices[0], indices[1])
    } else {
      throw InputError("'\(t)' is not a quantity (expected one of \(Quantity.names))")
    }
  }

  /// The quantity as a lesson writes it (`softmax[2]`).
  public var description: String {
    if let name = Quantity.scalars.first(where: { $0.1 == self })?.0 { return name }
    switch self {
    case .softmax(let i): return "softmax[\(i)]"
    case .softmaxNaive(let i): return "softmax_naive[\(i)]"
    case .logSoftmax(let i): return "log_softmax[\(i)]"
    case .gradient(let i): return "gradient[\(i)]"
    case .logit(let i): return "logits[\(i)]"
    case .updatedLogit(let i): return "updated_logits[\(i)]"
    case .jacobian(let i, let n): return "jacobian[\(i)][\(n)]"
    default: return "?"
    }
  }

  /// The class indices it names.
  var indices: [Int] {
    switch self {
    case .softmax(let i), .softmaxNaive(let i), .logSoftmax(let i), .gradient(let i), .logit(let i),
      .updatedLogit(let i):
      [i]
    case .jacobian(let i, let n): [i, n]
    default: []
    }
  }

  /// Its value in the explorer's current state, or why there is none (an index past the classes).
  public func value(in explorer: Explorer) throws(InputError) -> Double {
    try value(ev: explorer.evaluation, selection: explorer.state.selection)
  }

  /// Its value in `ev`, with `selection` the selected row.
  public func value(ev: Evaluation, selection: Int) throws(InputError) -> Double {
    let c = ev.problem.classes
    if let bad = indices.first(where: { $0 >= c }) {
      throw InputError("\(self): index \(bad) is out of range for \(c) classes (expected 0...\(c - 1))")
    }
    switch self {
    case .loss: return ev.loss
    case .lossNaive: return ev.lossNaive
    case .updatedLoss: return ev.updatedLoss
    case .logSumExp: return ev.logSumExp.value
    case .max: return ev.logSumExp.max
    case .sigmaNaive: return ev.naive.sum
    case .target: return Double(ev.problem.target)
    case .classes: return Double(c)
    case .selection: return Double(selection)
    case .softmax(let i): return ev.softmax[i]
    case .softmaxNaive(let i): return ev.naive.probabilities[i]
    case .logSoftmax(let i): return ev.logSoftmax[i]
    case .gradient(let i): return ev.gradient[i]
    case .logit(let i): return ev.problem.logits[i]
    case .updatedLogit(let i): return ev.updatedLogits[i]
    case .jacobian(let i, let n): return ev.jacobian(i, n)
    }
  }
}

extension String {
  /// The string without the characters of `set` at either end (the lesson files' parser uses it too).
  package func trimmed(_ set: String) -> String { Substring(self).trimmed(set) }
}

extension Substring {
  /// The substring without the characters of `set` at either end.
  package func trimmed(_ set: String) -> String {
    var s = self
    while let f = s.first, set.contains(f) { s.removeFirst() }
    while let l = s.last, set.contains(l) { s.removeLast() }
    return String(s)
  }
}
