import Foundation
import SoftmaxCore
import SoftmaxText
import Testing

@testable import SoftmaxReport

/// Evaluates a problem after validation.
func evaluate(_ p: Problem) throws -> Evaluation { Evaluation(try p.validated()) }

/// Parses a JSON report into a dictionary.
func parseJSON(_ text: String) throws -> [String: Any] {
  let object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
  return try #require(object as? [String: Any])
}

/// A JSON array of numbers as `Double`s (non-finite values are the strings the contract uses).
func doubles(_ value: Any?) throws -> [Double] {
  let array = try #require(value as? [Any])
  return try array.map { element in
    if let s = element as? String {
      switch s {
      case "inf": return .infinity
      case "-inf": return -.infinity
      case "nan": return .nan
      default: throw JSONShapeError(description: "unexpected string \(s)")
      }
    }
    return try #require(element as? NSNumber).doubleValue
  }
}

struct JSONShapeError: Error, CustomStringConvertible { var description: String }

/// Whether two arrays agree to within 8 ulps: swift-corelibs-foundation's JSON parser does not round 17-digit
/// decimals correctly (`-0.022033044520174298` reads 3 ulps off), so the exact digits are checked against the text.
func close(_ a: [Double], _ b: [Double]) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { close($0, $1) }
}

func close(_ a: Double?, _ b: Double?) -> Bool {
  guard let a, let b else { return false }
  if a == b || (a.isNaN && b.isNaN) { return true }
  return abs(a - b) <= 8 * b.ulp
}

/// The JSON text of a numeric array as the contract prints it: shortest round-trip digits in the precision.
func exactArray(_ xs: [Double], _ p: Precision) -> String { "[" + xs.map(p.roundTrip).joined(separator: ", ") + "]" }

@Suite("JSON report")
struct JSONReportTests {
  @Test func keysAndValuesForOneTwoThree() throws {
    let ev = try evaluate(Problem(logits: [1, 2, 3], target: 2))
    let text = Report.json(ev, includeJacobian: false)
    let json = try parseJSON(text)
    // The exact digits: shortest round-trip decimals, as Swift reads them back.
    #expect(text.contains(#""softmax": "# + exactArray(ev.softmax, .float64)))
    #expect(text.contains(#""gradient": "# + exactArray(ev.gradient, .float64)))
    #expect(text.contains(#""loss": \#(ev.loss.description)"#))
    #expect(text.contains(#""softmax": [0.09003057317038046, 0.24472847105479764, 0.6652409557748219]"#))
    let keys = [
      "precision", "classes", "logits", "target", "temperature", "label_smoothing", "upstream", "learning_rate",
      "softmax", "softmax_naive", "softmax_online", "log_softmax", "loss", "loss_naive", "gradient", "jacobian",
      "updated_logits", "updated_loss", "overflow", "checks",
    ]
    for key in keys { #expect(json[key] != nil, "missing \(key)") }
    #expect(json["soft_target"] == nil)
    #expect(json["loss_note"] == nil)
    #expect(json["step_refusal"] == nil)
    #expect(json["precision"] as? String == "float64")
    #expect((json["classes"] as? NSNumber)?.intValue == 3)
    #expect((json["target"] as? NSNumber)?.intValue == 2)
    #expect(try doubles(json["logits"]) == [1, 2, 3])
    #expect(close(try doubles(json["softmax"]), ev.softmax))
    #expect(close(try doubles(json["softmax_naive"]), ev.naive.probabilities))
    #expect(close(try doubles(json["softmax_online"]), ev.online.probabilities))
    #expect(close(try doubles(json["log_softmax"]), ev.logSoftmax))
    #expect(close(try doubles(json["gradient"]), ev.gradient))
    #expect(close(try doubles(json["updated_logits"]), ev.updatedLogits))
    #expect(close((json["loss"] as? NSNumber)?.doubleValue, ev.loss))
    #expect(close((json["loss_naive"] as? NSNumber)?.doubleValue, ev.lossNaive))
    #expect(close((json["updated_loss"] as? NSNumber)?.doubleValue, ev.updatedLoss))
    #expect((json["learning_rate"] as? NSNumber)?.doubleValue == 0.1)
    let softmax = try doubles(json["softmax"])
    #expect(abs(softmax[2] - 0.6652409557748219) < 1e-15)
    let jacobian = try #require(json["jacobian"] as? [Any])
    #expect(jacobian.count == 3)
    for i in 0..<3 {
      #expect(close(try doubles(jacobian[i]), ev.jacobianRow(i)))
      #expect(text.contains(exactArray(ev.jacobianRow(i), .float64)))
    }
    let overflow = try #require(json["overflow"] as? [String: Any])
    for key in [
      "overflowing", "underflowing", "subnormal", "sum_overflows", "sum_overflows_with_finite_terms", "sum_is_zero",
      "outcome", "diagnosis",
    ] {
      #expect(overflow[key] != nil, "missing overflow.\(key)")
    }
    #expect(overflow["outcome"] as? String == "fine")
    #expect((overflow["overflowing"] as? [Any])?.isEmpty == true)
    let checks = try #require(json["checks"] as? [[String: Any]])
    #expect(checks.map { ($0["class"] as? NSNumber)?.intValue } == [2, 0])
    for check in checks {
      let n = try #require((check["class"] as? NSNumber)?.intValue)
      #expect(close((check["closed_form"] as? NSNumber)?.doubleValue, ev.gradient[n]))
      #expect(close((check["chain_rule"] as? NSNumber)?.doubleValue, ev.chainRule(n)))
      #expect(close((check["finite_difference"] as? NSNumber)?.doubleValue, ev.finiteDifference(n)?.estimate))
      #expect((check["agrees"] as? NSNumber)?.boolValue == true)
    }
  }

  @Test func naiveOverflowGivesNonFiniteStrings() throws {
    let ev = try evaluate(Problem(logits: [1000, 1001, 1002], target: 2))
    let text = Report.json(ev, includeJacobian: false)
    let json = try parseJSON(text)
    let naive = try #require(json["softmax_naive"] as? [Any])
    #expect(naive.compactMap { $0 as? String } == ["nan", "nan", "nan"])
    #expect(json["loss_naive"] as? String == "nan")
    #expect(close(try doubles(json["softmax"]), ev.softmax))
    #expect(close((json["loss"] as? NSNumber)?.doubleValue, ev.loss))
    let overflow = try #require(json["overflow"] as? [String: Any])
    #expect(overflow["outcome"] as? String == "nan")
    #expect((overflow["overflowing"] as? [NSNumber])?.map(\.intValue) == [0, 1, 2])
    #expect((overflow["sum_overflows"] as? NSNumber)?.boolValue == true)
  }

  @Test func reducedPrecisionRoundTrips() throws {
    let ev = try evaluate(Problem(logits: [1, 2, 3], target: 2, precision: .float16))
    let text = Report.json(ev, includeJacobian: false)
    let json = try parseJSON(text)
    // Read back into float16, the shortest digits give exactly the core's values.
    #expect(try doubles(json["softmax"]).map(Precision.float16.round) == ev.softmax)
    #expect(try doubles(json["gradient"]).map(Precision.float16.round) == ev.gradient)
    // float16 values print with float16's shortest digits, e.g. 0.665 rather than 0.66552734375.
    #expect(text.contains(#""softmax": "# + exactArray(ev.softmax, .float16)))
    #expect(!text.contains("0.66552734375"))
  }

  @Test func optionalKeysAndLargeJacobian() throws {
    let soft = try evaluate(Problem(logits: [1, 2, 3], target: 0, softTarget: [0.25, 0.25, 0.5]))
    let json = try parseJSON(Report.json(soft, includeJacobian: false))
    #expect(try doubles(json["soft_target"]) == [0.25, 0.25, 0.5])
    #expect((json["checks"] as? [Any])?.count == 1)

    let masked = try evaluate(Problem(logits: [1, -.infinity, 3], target: 1))
    let maskedJSON = try parseJSON(Report.json(masked, includeJacobian: false))
    #expect(maskedJSON["loss"] as? String == "inf")
    #expect((maskedJSON["loss_note"] as? String)?.contains("masked") == true)
    #expect(try doubles(maskedJSON["logits"])[1] == -.infinity)

    let big = try evaluate(Problem(logits: SeededRandom.logits(count: 600, seed: 1, scale: 1)))
    #expect(try parseJSON(Report.json(big, includeJacobian: false))["jacobian"] == nil)
    let withJacobian = try parseJSON(Report.json(big, includeJacobian: true))
    #expect((withJacobian["jacobian"] as? [Any])?.count == 600)
  }

  @Test func stringsAreEscaped() throws {
    #expect(JSONReport.quoted("a\"b\\c\nd\u{1}σ") == #""a\"b\\c\nd\u0001σ""#)
    #expect(JSONReport.isNumber("1e-05"))
    #expect(JSONReport.isNumber("-0.0"))
    #expect(JSONReport.isNumber("5.0"))
    #expect(!JSONReport.isNumber("inf"))
    #expect(!JSONReport.isNumber("1."))
    #expect(!JSONReport.isNumber(".5"))
  }
}

@Suite("Worked example")
struct WorkedExampleTests {
  @Test func markdownDerivationHasTheNumbers() throws {
    let ev = try evaluate(Problem(logits: [1, 2, 3], target: 2))
    let md = Report.markdown(ev)
    let expected = [
      // Forward pass and loss.
      #"\frac{20.09}{30.19} = 0.6652"#, #"-\log 0.6652 = 0.4076"#, #"3.408 - 3.000 = 0.4076"#,
      // Step 1: the normaliser.
      #"\sigma &= \mathbf{1}_j\, e^{x_j}"#,
      #"= \mathbf{1}_j \frac{\partial e^{x_j}}{\partial x_j}\,\frac{\partial x_j}{\partial x_n} = \mathbf{1}_j\, e^{x_j}\, \delta_{jn} = e^{x_n}"#,
      #"&= 1\cdot 2.718\cdot 0 + 1\cdot 7.389\cdot 0 + 1\cdot 20.09\cdot 1"#,
      // Step 2: the quotient rule, both cases.
      #"= s_i\,\delta_{in} - s_i s_n"#, #"s_{2}(1 - s_{2}) = 0.6652\cdot 0.3348 = 0.2227"#,
      #"-s_{2}\, s_{0} = -0.6652\cdot 0.09003 = -0.05989"#,
      // Step 3: T is fixed.
      #"-\frac{1}{s_T}\,\delta_{iT}"#, #"-1/0.6652 = -1.503"#, "not an index that is summed over",
      // Step 4: the chain rule collapses.
      #"= s_n - \delta_{Tn}"#, #"0\cdot 0.08193 + 0\cdot (-0.02203) \\"#, #"&\quad + (-1.503)\cdot 0.2227 \\"#,
      #"&= -0.3348 = s_{2} - 1 = 0.6652 - 1 = -0.3348"#,
      // The case form with the numbers.
      #"\begin{cases} s_k - 1 & k = T, \\ s_k & k \ne T, \end{cases}"#,
      #"\frac{\partial c}{\partial x_{0}} &= s_{0} = 0.09003 && (k \ne T)"#,
      // Step 5: backpropagation.
      #"g\,(s_n - \delta_{Tn})"#,
      // Step 6 and the step.
      "chain rule", "closed form", "finite difference", "relative error", "relative tolerance",
      "The loss goes from $0.4076$ to $0.3899$",
      // The Jacobian and the stability section.
      #"\begin{pmatrix}"#, "0.2227", "$e^z$ overflows above $z =$", "$709.783$",
    ]
    for piece in expected { #expect(md.contains(piece), "missing \(piece)") }
  }

  /// A tiny loss: every chain stays true at its printed digits, with the cancellation-free values where `1 − s_0`
  /// and `s_0 − 1` cancel, and the square of a number in scientific form is parenthesised and braced.
  @Test func tinyLossHasNoCancelledChain() throws {
    let ev = try evaluate(Problem(logits: [40, 0], target: 0))
    let md = Report.markdown(ev)
    let expected = [
      #"&= s_{0}(1 - s_{0}) = s_{0}\sum_{j \ne 0} s_j = 1.000\cdot {4.248\times 10^{-18}} = {4.248\times 10^{-18}}"#,
      #"Computed directly, $1 - s_{0} = 1 - 1.000 = 0$ in `float64`"#,
      #"&= {-4.248\times 10^{-18}} = s_{0} - 1 = -\sum_{j \ne 0} s_j = {-4.248\times 10^{-18}}"#,
      #"Computed directly, $s_{0} - 1 = 1.000 - 1 = 0$ in `float64`"#,
      #"\frac{\partial l}{\partial x_{0}} &= 1.000\cdot ({-4.248\times 10^{-18}}) = {-4.248\times 10^{-18}}"#,
    ]
    for piece in expected { #expect(md.contains(piece), "missing \(piece)") }
    for wrong in [#"(1 - 1.000) = 0"#, #"(1.000 - 1.000) = {-4.248"#, #"10^{17}}^2"#, #"10^{17}^2"#, "= -0 "] {
      #expect(!md.contains(wrong), "found \(wrong)")
    }
  }

  /// A masked target: the chain-rule sum with numbers would be ∞·0, so it is not written out as if it had a value.
  @Test func maskedTargetDoesNotMultiplyInfinityByZero() throws {
    let md = Report.markdown(try evaluate(Problem(logits: [-.infinity, 1, 2], target: 0)))
    #expect(!md.contains(#"(-\infty)\cdot 0"#))
    #expect(md.contains("which has no value"))
    #expect(md.contains("They cannot agree."))
  }

  @Test func generalFormsWhenKnobsAreActive() throws {
    let ev = try evaluate(Problem(logits: [1, 2, 3], target: 2, temperature: 2, labelSmoothing: 0.1))
    let md = Report.markdown(ev)
    #expect(md.contains(#"Temperature $\tau = 2.000$"#))
    #expect(md.contains(#"Label smoothing $\varepsilon = 0.1000$"#))
    #expect(md.contains(#"= -y_n + s_n \sum_i y_i = s_n - y_n"#))
    #expect(md.contains(#"\partial z_n"#))
  }

  @Test func largeProblemIsTruncated() throws {
    let ev = try evaluate(Problem(logits: SeededRandom.logits(count: 5000, seed: 3, scale: 2), target: 4321))
    let md = Report.markdown(ev)
    #expect(md.contains("hidden"))
    #expect(!md.contains(#"\begin{pmatrix}"#))
    #expect(md.contains(#"J_{4321\cdot}"#))
    #expect(md.count < 40_000)
  }

  @Test func overflowIsDiagnosed() throws {
    let ev = try evaluate(Problem(logits: [1000, 1001, 1002], target: 2))
    let md = Report.markdown(ev)
    #expect(md.contains("**overflow**"))
    #expect(md.contains("shifted"))
    #expect(md.contains(#"\mathrm{NaN}"#))
  }

  @Test func latexIsAStandaloneDocument() throws {
    let ev = try evaluate(Problem(logits: [1000, 1001, 1002], target: 2))
    let tex = Report.latex(ev)
    #expect(tex.hasPrefix(#"\documentclass"#))
    #expect(tex.contains(#"\usepackage{amsmath"#))
    #expect(tex.contains(#"\begin{document}"#))
    #expect(tex.hasSuffix("\\end{document}\n"))
    #expect(tex.contains(#"\frac{\partial s_i}{\partial x_n}"#))
    // No raw Unicode math symbols or Markdown syntax leak into the LaTeX.
    for bad in ["σ", "∂", "−", "$$", "**", "`", "| ---"] { #expect(!tex.contains(bad), "found \(bad)") }
    // Braces balance outside escaped ones.
    var depth = 0
    var previous: Character = " "
    for ch in tex {
      if previous != "\\" {
        if ch == "{" { depth += 1 }
        if ch == "}" { depth -= 1 }
      }
      #expect(depth >= 0)
      previous = ch
    }
    #expect(depth == 0)
  }

  @Test func latexEscapesText() {
    #expect(
      Document.inline("50% of x_1 & `e^{z} σ` $a_1$")
        == #"50\% of x\_1 \& \texttt{e\^{}\{z\}} \texttt{$\sigma$} $a_1$"#)
  }
}

@Suite("Text report")
struct TextReportTests {
  @Test func smallTable() throws {
    let ev = try evaluate(Problem(logits: [1, 2, 3], target: 2))
    let text = Report.text(ev, fullDigits: false)
    for piece in ["x_i", "z_i", "e^{z_i} naive", "s_i", "y_i", "∂l/∂x_i", "x_i after step", "0.6652", "0.4076", "ok"] {
      #expect(text.contains(piece), "missing \(piece)")
    }
    #expect(!text.contains("hidden"))
    let full = Report.text(ev, fullDigits: true)
    #expect(full.contains("0.6652409557748219"))
    // The table's columns line up: every table row has its separators at the same offsets.
    let rows = text.split(separator: "\n").filter { $0.contains("│") }
    let offsets = Set(rows.map { row in row.firstIndex(of: "│").map { row.distance(from: row.startIndex, to: $0) } })
    #expect(offsets.count == 1)
  }

  @Test func hugeTableIsTruncated() throws {
    let ev = try evaluate(Problem(logits: SeededRandom.logits(count: 100_000, seed: 1, scale: 1), target: 50_000))
    let text = Report.text(ev, fullDigits: false)
    #expect(text.contains("rows hidden"))
    #expect(text.contains("50000 T"))
    #expect(text.split(separator: "\n").count < 60)
  }

  @Test func overflowAndChecksAreReported() throws {
    let ev = try evaluate(Problem(logits: [1000, 1001, 1002], target: 2))
    let text = Report.text(ev, fullDigits: false)
    #expect(text.contains("naive softmax: overflow"))
    #expect(text.contains("e^{z_i} overflows at: 0, 1, 2"))
    #expect(text.contains("class 2 (target)"))
    #expect(text.contains("✓"))
  }
}

@Suite("Handout: one σ")
struct HandoutSigmaTests {
  // Issue 12 defect 5: the naive left-to-right σ is not the σ the derivation uses; the handout names both.
  @Test func naiveSigmaIsNamedAndTheDerivationUsesTheExactOne() throws {
    // x_j = (j mod 8)/4 is exact in bfloat16; σ = 16384 Σ_{k<8} e^{k/4} ≈ 3.686e5.
    let logits = (0..<131_072).map { Double($0 % 8) / 4 }
    let ev = try evaluate(Problem(logits: logits, target: 0, precision: .bfloat16))
    let sigma = 16384 * (0..<8).reduce(0.0) { $0 + Double.exp(Double($1) / 4) }
    let exact = WorkedExample.tex(sigma)
    let naive = WorkedExample.tex(ev.naive.sum)
    #expect(exact != naive)
    for text in [Report.markdown(ev), Report.latex(ev)] {
      #expect(text.contains("\\sigma_{\\text{naive}} &= \\sum_j e^{z_j}"))
      #expect(text.contains("Here $\\sigma = \(exact)$"))
      #expect(text.contains("$\\sigma_{\\text{naive}} = \(naive)$"))
      #expect(text.contains("the $\\sigma$ used in every step below is $\(exact)$"))
    }
  }
}
