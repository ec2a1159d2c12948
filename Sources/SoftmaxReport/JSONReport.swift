import SoftmaxCore
import SoftmaxText

/// The JSON contract: one object with a fixed set of keys, in this order.
///
/// `precision`, `classes`, `logits` (as rounded into the precision), `target`, `soft_target` (only when set),
/// `temperature`, `label_smoothing`, `upstream`, `learning_rate`, `softmax` (max-subtracted), `softmax_naive`,
/// `softmax_online`, `log_softmax`, `loss` (stable), `loss_naive`, `loss_note` (only when set), `gradient`,
/// `jacobian` (rows `∂s_i/∂x_·`; when `C ≤ 512` or asked for), `updated_logits`, `updated_loss`, `step_refusal`
/// (only when set), `overflow` (`overflowing`, `underflowing`, `subnormal`, `sum_overflows`,
/// `sum_overflows_with_finite_terms`, `sum_is_zero`, `outcome`, `diagnosis`) and `checks` (for the target and
/// class 0: `class`, `chain_rule`, `closed_form`, `chain_rule_relative_error`, `chain_rule_relative_tolerance`,
/// `chain_rule_agrees`, `finite_difference`, `step`, `error`, `tolerance` (absolute), `relative_error`,
/// `relative_tolerance`, `finite_difference_agrees`, `agrees` (all three); the
/// finite-difference fields are `null` for a masked class).
///
/// Numbers are the shortest decimals that round-trip in the problem's precision; `inf`, `-inf` and NaN are the
/// strings `"inf"`, `"-inf"` and `"nan"`.
struct JSONReport {
  /// Above this many classes the Jacobian is left out unless asked for.
  static let jacobianLimit = 512

  let ev: Evaluation
  let includeJacobian: Bool
  let excludeJacobian: Bool
  private var out = ""

  init(_ ev: Evaluation, includeJacobian: Bool, excludeJacobian: Bool = false) {
    self.ev = ev
    self.includeJacobian = includeJacobian
    self.excludeJacobian = excludeJacobian
  }

  func render() -> String {
    var copy = self
    copy.build()
    return copy.out
  }

  private mutating func build() {
    let p = ev.problem
    let c = p.classes
    out.reserveCapacity(256 + c * 200)
    out += "{\n"
    var first = true
    func key(_ name: String) {
      out += first ? "  " : ",\n  "
      first = false
      out += JSONReport.quoted(name)
      out += ": "
    }
    key("precision")
    out += JSONReport.quoted(p.precision.rawValue)
    key("classes")
    out += String(c)
    key("logits")
    numbers(p.logits)
    key("target")
    out += String(p.target)
    if let q = p.softTarget {
      key("soft_target")
      numbers(q)
    }
    key("temperature")
    number(p.temperature)
    key("label_smoothing")
    number(p.labelSmoothing)
    key("upstream")
    number(p.upstream)
    key("learning_rate")
    number(p.learningRate)
    key("softmax")
    numbers(ev.softmax)
    key("softmax_naive")
    numbers(ev.naive.probabilities)
    key("softmax_online")
    numbers(ev.onlineProbabilities)
    key("log_softmax")
    numbers(ev.logSoftmax)
    key("loss")
    number(ev.loss)
    key("loss_naive")
    number(ev.lossNaive)
    if let note = ev.lossNote {
      key("loss_note")
      out += JSONReport.quoted(note)
    }
    key("gradient")
    numbers(ev.gradient)
    if !excludeJacobian && (includeJacobian || c <= JSONReport.jacobianLimit) {
      key("jacobian")
      out += "["
      for i in 0..<c {
        out += i == 0 ? "\n    " : ",\n    "
        numbers(ev.jacobianRow(i))
      }
      out += c == 0 ? "]" : "\n  ]"
    }
    key("updated_logits")
    numbers(ev.updatedLogits)
    key("updated_loss")
    number(ev.updatedLoss)
    if let refusal = ev.stepRefusal {
      key("step_refusal")
      out += JSONReport.quoted(refusal)
    }
    key("overflow")
    overflow(ev.overflow)
    key("checks")
    checks()
    out += "\n}\n"
  }

  private mutating func overflow(_ o: OverflowReport) {
    func indices(_ a: [Int]) -> String { "[" + a.map(String.init).joined(separator: ", ") + "]" }
    let fields: [(String, String)] = [
      ("overflowing", indices(o.overflowing)),
      ("underflowing", indices(o.underflowing)),
      ("subnormal", indices(o.subnormal)),
      ("sum_overflows", String(o.sumOverflows)),
      ("sum_overflows_with_finite_terms", String(o.sumOverflowsWithFiniteTerms)),
      ("sum_is_zero", String(o.sumIsZero)),
      ("outcome", JSONReport.quoted(o.outcome.rawValue)),
      ("diagnosis", JSONReport.quoted(o.diagnosis.description)),
    ]
    out += "{\n"
    out += fields.map { "    \(JSONReport.quoted($0.0)): \($0.1)" }.joined(separator: ",\n")
    out += "\n  }"
  }

  private mutating func checks() {
    out += "["
    for (k, n) in ev.checkedClasses.enumerated() {
      let check = ev.gradientCheck(n)
      out += k == 0 ? "\n    {" : ",\n    {"
      out += "\"class\": \(n), \"chain_rule\": "
      number(check.chain)
      out += ", \"closed_form\": "
      number(check.closed)
      out += ", \"chain_rule_relative_error\": "
      out += JSONReport.double(check.chainRelativeError)
      out += ", \"chain_rule_relative_tolerance\": "
      out += JSONReport.double(check.chainRelativeTolerance)
      out += ", \"chain_rule_agrees\": \(check.chainAgrees), \"chain_rule_verdict\": \"\(check.chainVerdict.rawValue)\""
      if let fd = check.finite {
        out += ", \"finite_difference\": "
        number(fd.estimate)
        out += ", \"step\": "
        number(fd.step)
        out += ", \"error\": "
        out += JSONReport.double(fd.error)
        out += ", \"tolerance\": "
        out += JSONReport.double(fd.tolerance)
        out += ", \"relative_error\": "
        out += JSONReport.double(fd.relativeError)
        out += ", \"relative_tolerance\": "
        out += JSONReport.double(fd.relativeTolerance)
        out +=
          ", \"finite_difference_agrees\": \(fd.verdict == .agrees), \"finite_difference_verdict\": \"\(fd.verdict.rawValue)\""
      } else {
        out +=
          #", "finite_difference": null, "step": null, "error": null, "tolerance": null, "relative_error": null, "#
          + #""relative_tolerance": null, "finite_difference_agrees": null, "finite_difference_verdict": null"#
      }
      out += ", \"agrees\": \(check.agrees), \"verdict\": \"\(check.verdict.rawValue)\""
      out += "}"
    }
    out += "\n  ]"
  }

  /// A value of the problem's precision, as its shortest round-trip decimal.
  private mutating func number(_ x: Double) {
    guard x.isFinite else {
      out += x.isNaN ? "\"nan\"" : (x < 0 ? "\"-inf\"" : "\"inf\"")
      return
    }
    let s = ev.problem.precision.roundTrip(x)
    out += JSONReport.isNumber(s) ? s : x.description
  }

  private mutating func numbers(_ xs: [Double]) {
    out += "["
    for (k, x) in xs.enumerated() {
      if k > 0 { out += ", " }
      number(x)
    }
    out += "]"
  }

  /// A `Double` that is not a value of the precision (an error or a tolerance).
  static func double(_ x: Double) -> String {
    guard x.isFinite else { return x.isNaN ? "\"nan\"" : (x < 0 ? "\"-inf\"" : "\"inf\"") }
    return x.description
  }

  /// Whether `s` is a number in JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
  static func isNumber(_ s: String) -> Bool {
    var bytes = s.utf8[...]
    func digits() -> Int {
      var n = 0
      while let b = bytes.first, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") {
        bytes.removeFirst()
        n += 1
      }
      return n
    }
    if bytes.first == UInt8(ascii: "-") { bytes.removeFirst() }
    if bytes.first == UInt8(ascii: "0") {
      bytes.removeFirst()
    } else if digits() == 0 {
      return false
    }
    if bytes.first == UInt8(ascii: ".") {
      bytes.removeFirst()
      if digits() == 0 { return false }
    }
    if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
      bytes.removeFirst()
      if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes.removeFirst() }
      if digits() == 0 { return false }
    }
    return bytes.isEmpty
  }

  /// `s` as a JSON string literal: quotes, backslashes and control characters escaped; other characters as UTF-8.
  static func quoted(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where u.value < 0x20 || u.value == 0x7F || u.value == 0x2028 || u.value == 0x2029:
        let hex = String(u.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(u)
      }
    }
    return out + "\""
  }
}
