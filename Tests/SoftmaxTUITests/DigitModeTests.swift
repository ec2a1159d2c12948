import Foundation
import SoftmaxCore
import SoftmaxText
import Testing

@testable import SoftmaxTUI

/// Issue 12 defect 9: in the default 4-digit mode every number on screen has the mode's digits; `f` shows them all.
/// One test per example of the issue, on the rendered screen.
@Suite("No full digits in the 4-digit mode")
struct DigitModeTests {
  /// Numbers with more than five significant digits (`0.10000000149011612`, `2.9425903007032304`), as on screen.
  static func longNumbers(_ text: String) -> [String] {
    let pattern = try! NSRegularExpression(pattern: "[0-9]*\\.[0-9]+(e[−-]?[0-9]+)?")
    let ns = text as NSString
    return pattern.matches(in: text, range: NSRange(location: 0, length: ns.length)).compactMap { m in
      let token = ns.substring(with: m.range)
      let mantissa = token.split(separator: "e").first.map(String.init) ?? token
      let significant = mantissa.filter(\.isNumber).drop { $0 == "0" }
      return significant.count > 5 ? token : nil
    }
  }

  /// The status bar after `p`: float32's η = 0.10000000149011612 is η=0.1000, not its 17 digits.
  @Test func theStatusBarsKnobsAfterP() throws {
    var e = try explorer([1, 2, 3])
    type("p", into: &e)
    #expect(e.state.problem.learningRate == 0.10000000149011612)
    let status = screen(e, 120, 40).line(39)
    #expect(status.contains("η=0.1000"), "\(status)")
    #expect(!status.contains("0.10000000149011612"))
    type("pp", into: &e)  // bfloat16's 0.10009765625, then float16's 0.0999755859375
    let f16 = screen(e, 120, 40).line(39)
    #expect(f16.contains("η=0.09998") && Self.longNumbers(f16).isEmpty, "\(f16)")
  }

  /// The naive-softmax diagnosis: `largest z = 2.943 < 709.78`, not `2.9425903007032304`; `f` shows every digit.
  @Test func theDiagnosisLargestZ() throws {
    var e = try explorer([2.9425903007032304, 0.9922304153442383, -1])
    let text = screen(e, 120, 40).text
    #expect(text.contains("largest z = 2.943 < 709.78"), "\(text)")
    #expect(Self.longNumbers(text).isEmpty, "\(Self.longNumbers(text))")
    type("f", into: &e)
    #expect(screen(e, 200, 60).text.contains("largest z = 2.9425903007032304 < 709.78"))
  }

  /// The Stability lab's rounding note: `x_0: 0.9922 → 0.9922` (bfloat16's 0.9921875), not full digits.
  @Test func theStabilityRoundingNote() throws {
    var e = try explorer([0.9922304153442383, 2.9425903007032304, -1])
    e.perform(.showScreen(.stability))
    let text = screen(e, 200, 60).text
    #expect(text.contains("x_0: 0.9922 → 0.9922"), "\(text)")
    #expect(!text.contains("0.9922304153442383") && !text.contains("0.9921875"))
    #expect(Self.longNumbers(text).isEmpty, "\(Self.longNumbers(text))")
    type("f", into: &e)
    #expect(screen(e, 200, 60).text.contains("x_0: 0.9922304153442383 → 0.9921875"))
  }

  /// `--random 200000`: every screen, in float64 and float32, shows x_0 = −1.384 with 4 digits, and no long number.
  @Test func twoHundredThousandRandomLogits() throws {
    let logits = SeededRandom.logits(count: 200_000, seed: 0, scale: 1)
    var e = Explorer(problem: try Problem(logits: logits).validated())
    let x0 = DecimalFormat.significant(logits[0], digits: 4).replacingOccurrences(of: "-", with: "−")
    for precision in 0..<2 {
      for s in ["1", "2", "3", "4"] {
        type(s, into: &e)
        for (w, h) in [(80, 24), (120, 40)] {
          let text = screen(e, w, h).text
          #expect(
            Self.longNumbers(text).isEmpty,
            "screen \(s) at \(w)x\(h) in \(e.state.problem.precision): \(Self.longNumbers(text))")
        }
      }
      if precision == 0 {
        type("1", into: &e)
        #expect(screen(e, 120, 40).text.contains(x0), "x_0 = \(x0) is not on the Explore screen")
        type("p", into: &e)
      }
    }
  }
}
