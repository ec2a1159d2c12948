import SoftmaxCore
import SoftmaxText
import Testing

@testable import SoftmaxTUI

@Suite("TextLine: inline text, its formatting and wrapping")
struct TextLineTests {
  @Test func interpolationAndAppending() {
    let t: TextLine = "σ_\(3) = \(0.6652409557748219, digits: 4) → \("inf")"
    #expect(t.description == "σ_3 = 0.6652 → inf")
    #expect(t.scalarCount == 18)
    #expect(t.utf8Count == t.description.utf8.count)
    var u = t
    u += " ✓"
    u.append(-42)
    #expect(u.description == "σ_3 = 0.6652 → inf ✓-42")
    #expect(u.prefix(scalars: 3).description == "σ_3")
    #expect(u.dropFirst(scalars: 19).description == "✓-42")
    u.removeLast(3)
    #expect(u.description == "σ_3 = 0.6652 → inf ✓")
    var spaces: TextLine = "a  "
    spaces.trimTrailingSpaces()
    #expect(spaces.description == "a")
    #expect(TextLine("−x").hasPrefix("−") && !TextLine("x").hasPrefix("−") && TextLine("1.0").hasSuffix(".0"))
  }

  @Test func capacityCutsAtAScalarBoundary() {
    var t = TextLine()
    for _ in 0..<600 { t.append("σ") }  // two bytes each
    #expect(t.utf8Count == TextLine.capacity)
    var odd: TextLine = "x"
    for _ in 0..<600 { odd.append("σ") }
    #expect(odd.utf8Count == TextLine.capacity - 1)
    #expect(odd.description.unicodeScalars.allSatisfy { $0 == "x" || $0 == "σ" })
  }

  @Test func numbersMatchTheirStringForms() {
    var rng = SeededRandom(seed: 3)
    for _ in 0..<2000 {
      let x = (rng.nextUnit() - 0.5) * Double.pow(10, Double(Int(rng.next() % 40)) - 20)
      #expect(TextLine(compact: x).description == DecimalFormat.compact(x))
      for precision in Precision.allCases {
        #expect(NumberStyle(precision: precision, full: true)(x).description == precision.roundTrip(x))
        #expect(NumberStyle(precision: precision, full: false)(x).description == DecimalFormat.significant(x))
      }
    }
    for x in [0.0, -0.0, 1, .infinity, -.infinity, .nan, -.nan, .signalingNaN, -.signalingNaN, 1e300, .leastNonzeroMagnitude] {
      for precision in Precision.allCases {
        #expect(NumberStyle(precision: precision, full: true)(x).description == precision.roundTrip(x))
      }
      #expect(TextLine(compact: x).description == DecimalFormat.compact(x))
      #expect(NumberStyle(precision: .float64, full: true)(x).description == Precision.float64.roundTrip(x))
    }
  }

  @Test func asciiSpellings() {
    let ctx = RenderContext(colorMode: .none, unicode: false)
    #expect(ctx.text("∂s_i/∂x_n = σ·δ − τ ≤ ∞ ✓").description == "ds_i/dx_n = sigma*delta - tau <= inf ok")
    #expect(ctx.prose("Δ² “a” •").description == "D^2 \"a\" *")
    #expect(ctx.text("Δ").description == "d")
    #expect(ctx.text("日").description == "?")
    #expect(RenderContext().text("∂σ").description == "∂σ")
  }

  /// Random prose: words of 1–14 letters (some non-ASCII) separated by runs of 1–3 spaces, with leading spaces.
  static func randomText(_ rng: inout SeededRandom) -> String {
    var s = String(repeating: " ", count: Int(rng.next() % 4))
    for w in 0..<Int(1 + rng.next() % 30) {
      if w > 0 { s += String(repeating: " ", count: Int(1 + rng.next() % 3)) }
      for _ in 0..<Int(1 + rng.next() % 14) { s += rng.next() % 5 == 0 ? "σ" : "a" }
    }
    if rng.next() % 3 == 0 { s += "  " }
    return s
  }

  @Test func wrappingMatchesTheStringVersions() {
    var rng = SeededRandom(seed: 11)
    for _ in 0..<3000 {
      let text = Self.randomText(&rng)
      let width = Int(rng.next() % 60)
      let indent = Int(rng.next() % 14)
      var prose: [String] = []
      ProseLine(TextLine(text), indent: indent).forEachWrapped(width: width, context: RenderContext()) {
        prose.append($0.description)
      }
      #expect(
        prose == Self.referenceProseWrap(text, width: width, indent: indent), "\(text.debugDescription) at \(width)")
      var panel: [String] = []
      wrap(TextLine(text), width: width) { panel.append($0.description) }
      #expect(panel == Self.referenceWrap(text, width: width), "\(text.debugDescription) at \(width)")
    }
  }

  /// The wrapping of `ProseLine` before it moved to `TextLine` (from git history), as a reference.
  static func referenceProseWrap(_ text: String, width: Int, indent: Int) -> [String] {
    let t = Array(text.unicodeScalars)
    guard width > 0 else { return [] }
    if t.count <= width { return [String(String.UnicodeScalarView(t))] }
    let lead = t.prefix { $0 == " " }.count
    let hang = Swift.min(Swift.max(indent, lead), width / 2)
    var lines: [String] = []
    var current = Array(t.prefix(lead))
    var k = lead
    func flush() {
      while current.last == " " { current.removeLast() }
      lines.append(String(String.UnicodeScalarView(current)))
      current = Array(repeating: " ", count: hang)
    }
    while k < t.count {
      // The next word and the spaces before it.
      var spaces = 0
      while k + spaces < t.count, t[k + spaces] == " " { spaces += 1 }
      var end = k + spaces
      while end < t.count, t[end] != " " { end += 1 }
      let word = t[(k + spaces)..<end]
      let atStart =
        current.count <= hang && !lines.isEmpty || current.count == lead && lines.isEmpty
      if !atStart && current.count + spaces + word.count > width {
        flush()
        current += word
      } else {
        if !atStart || lines.isEmpty {
          current += Array(repeating: " ", count: atStart ? 0 : spaces)
        }
        current += word
      }
      while current.count > width {
        let rest = current[width...]
        current = Array(current.prefix(width))
        flush()
        current += rest
      }
      k = end
    }
    if current.contains(where: { $0 != " " }) { flush() }
    return lines
  }

  /// The panel wrapping before it moved to `TextLine` (from git history), as a reference.
  static func referenceWrap(_ text: String, width: Int) -> [String] {
    guard width > 4, text.unicodeScalars.count > width else { return [text] }
    var lines: [String] = []
    var current = ""
    var count = 0
    for word in text.split(separator: " ", omittingEmptySubsequences: false) {
      let w = word.unicodeScalars.count
      if count > 0 && count + 1 + w > width {
        lines.append(current)
        current = "  "
        count = 2
      }
      if count > 0 && !(count == 2 && current == "  ") {
        current += " "
        count += 1
      }
      current += word
      count += w
    }
    if !current.isEmpty { lines.append(current) }
    return lines
  }
}
