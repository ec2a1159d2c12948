import SoftmaxCore
import SoftmaxTUI

/// A claim about the state, as a lesson's `> expect:` line states it: `QUANTITY OP VALUE`, optionally `± TOLERANCE`.
///
/// `OP` is `<`, `<=`, `>`, `>=`, `==` or `!=`; `VALUE` a number (`1e-3`, `-0.5`), `inf`, `-inf` or `nan`; the
/// tolerance (written `±` or `+-`) is absolute and only goes with `==` and `!=`. `==` without a tolerance is exact
/// (`x == nan` holds when x is NaN). Examples: `loss < 0.01`, `softmax[2] > 0.9`, `gradient[1] == -0.5 ± 1e-3`,
/// `softmax_naive[0] == nan`, `sigma_naive == inf`.
public struct Claim: Equatable, Sendable, CustomStringConvertible {
  /// The comparisons, two-character ones first (so that `<=` is not read as `<`).
  public enum Op: String, Sendable, CaseIterable {
    case lessOrEqual = "<="
    case greaterOrEqual = ">="
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case greater = ">"
  }

  /// What is compared, how, with which value, and the absolute tolerance of `==` and `!=`.
  public var quantity: Quantity
  public var op: Op
  public var value: Double
  public var tolerance: Double?
  /// The claim as written.
  public var description: String

  /// Parses a claim; the message says what is wrong.
  public init(parsing text: String) throws(InputError) {
    description = text.trimmed(" \t")
    guard let (op, range) = Claim.findOp(description) else {
      throw InputError("'\(description)' has no comparison (expected QUANTITY < VALUE, with <, <=, >, >=, == or !=)")
    }
    self.op = op
    quantity = try Quantity(parsing: description[..<range.lowerBound])
    var right = Substring(description[range.upperBound...])
    var tol: Substring?
    for mark in ["±", "+-"] {
      if let r = right.range(of: mark) {
        tol = right[r.upperBound...]
        right = right[..<r.lowerBound]
        break
      }
    }
    value = try Claim.number(right, "the value")
    if let tol {
      guard op == .equal || op == .notEqual else { throw InputError("a tolerance goes only with == and !=") }
      let t = try Claim.number(tol, "the tolerance")
      guard t.isFinite, t >= 0 else { throw InputError("the tolerance must be a finite number >= 0") }
      tolerance = t
    }
  }

  static func findOp(_ s: String) -> (Op, Range<String.Index>)? {
    for op in Op.allCases {  // two-character operators first
      if let r = s.range(of: op.rawValue) { return (op, r) }
    }
    return nil
  }

  static func number(_ text: Substring, _ what: String) throws(InputError) -> Double {
    let t = text.trimmed(" \t")
    switch t.lowercased() {
    case "inf", "+inf", "∞": return .infinity
    case "-inf", "−inf", "-∞": return -.infinity
    case "nan": return .nan
    default:
      guard let v = Double(t) else { throw InputError("\(what) '\(t)' is not a number") }
      return v
    }
  }

  /// Whether the claim holds for `x`.
  public func holds(for x: Double) -> Bool {
    if value.isNaN {
      return op == .equal ? x.isNaN : op == .notEqual ? !x.isNaN : false
    }
    let t = tolerance ?? 0
    switch op {
    case .less: return x < value
    case .lessOrEqual: return x <= value
    case .greater: return x > value
    case .greaterOrEqual: return x >= value
    case .equal: return x == value || abs(x - value) <= t
    case .notEqual: return !(x == value || abs(x - value) <= t)
    }
  }
}
